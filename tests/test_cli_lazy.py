"""``backtest --help`` lists the commands without importing them (start-up under half a second)."""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys

import backtest.commands as commands_package
from backtest.cli import build_parser, command_names


def test_help_imports_no_command_module_nor_pandas():
    code = ("import sys; from backtest.cli import main; main(['--help']); "
            "heavy = ('pandas', 'scipy', 'backtest.commands.'); "
            "print(sorted(m for m in sys.modules if m.startswith(heavy)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "study     event study: abnormal returns, CARs and significance tests" in out
    assert out.strip().splitlines()[-1] == "[]"


def _listed_help(parser: argparse.ArgumentParser) -> dict[str, str]:
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {action.dest: action.help for action in sub._choices_actions}


def test_the_summary_table_says_what_each_command_registers():
    # the help line each module registers (imported in full) is the one --help lists lazily
    full = argparse.ArgumentParser()
    subparsers = full.add_subparsers()
    for name in command_names():
        importlib.import_module(f"backtest.commands.{name}").register(subparsers)
    registered = _listed_help(full)
    assert set(registered) == set(command_names()) == set(commands_package.SUMMARIES)
    assert _listed_help(build_parser()) == registered
    # the command being run gets its full parser; the others stay stubs
    study = build_parser("study")
    sub = next(a for a in study._actions if isinstance(a, argparse._SubParsersAction))
    assert "--model" in sub.choices["study"].format_help()
    assert "--out" not in sub.choices["trade"].format_help()
