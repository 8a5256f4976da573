"""Command-line entry point: ``backtest COMMAND ...``.

Thin on purpose: each command lives in ``backtest/commands/<name>.py`` with
``register(subparsers)`` (adds its parser and sets ``func``) and a handler
``func(args) -> int``. A ``BacktestError`` becomes one line on stderr and exit
code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import warnings

import backtest.commands as commands_package
from backtest import __version__
from backtest.collector import frozen_heap
from backtest.errors import BacktestError, BacktestWarning, os_error


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    # Our warnings are messages for the user, not code locations.
    if issubclass(category, BacktestWarning):
        print(f"warning: {message}", file=sys.stderr)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit code 2), like every other error of the tool."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message}; see '{self.prog} --help'\n")


def command_names() -> list[str]:
    """Names of the command modules in :mod:`backtest.commands` (found without importing them)."""
    modules = pkgutil.iter_modules(commands_package.__path__)
    return sorted(m.name for m in modules if not m.name.startswith("_"))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``backtest`` parser, importing only ``command``'s module.

    The other commands are listed from :data:`backtest.commands.SUMMARIES` (a module not in
    it is imported for its help line): ``backtest --help`` loads no pandas, scipy or vectorbt.
    """
    parser = _Parser(
        prog="backtest",
        description="Market-event studies and strategy backtests on daily prices.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Run 'backtest COMMAND --help' for a command's options and examples.",
    )
    parser.add_argument("--version", action="version", version=f"backtest {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in command_names():
        if name == command or name not in commands_package.SUMMARIES:
            importlib.import_module(f"backtest.commands.{name}").register(subparsers)
        else:
            subparsers.add_parser(name, help=commands_package.SUMMARIES[name], add_help=False)
    return parser


def _command_of(argv: list[str]) -> str | None:
    # the top-level options take no values: the first word that is not an option is the command
    return next((word for word in argv if not word.startswith("-")), None)


def _run(args: argparse.Namespace) -> int:
    out = getattr(args, "out", None)
    if isinstance(out, str):
        from backtest.report.output import open_output

        # Every --out goes through the one writer: checked and locked before any work,
        # swapped in whole when the command succeeds, left as it was when it fails.
        with open_output(out, "--out") as args.out:
            return int(args.func(args) or 0)
    return int(args.func(args) or 0)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    from backtest.background import second_process, wants_second_process

    # started first: the second process's imports overlap this one's (backtest.background)
    with second_process(wants_second_process(_command_of(argv), argv)):
        return _main(argv)


def entry() -> None:
    """The ``backtest`` console script: :func:`main`, then exit without the interpreter's
    teardown: freeing every object of pandas, numba and matplotlib one by one took 0.6 s of a
    warm 8 s ``backtest run``. Every file is written, swapped in and closed by then; no handler
    that the teardown would run (atexit, finalizers) is needed after :func:`main` returns."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # ``backtest ... | head``: the reader has gone
        pass
    os._exit(code)


def _main(argv: list[str]) -> int:
    parser = build_parser(_command_of(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already printed in one line
        return int(exc.code or 0)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    # catch_warnings restores the global warning state afterwards (main() is also called in-process).
    with warnings.catch_warnings():
        warnings.showwarning = _show_warning
        try:
            from backtest.instruments import user_names

            with user_names(getattr(args, "instruments", None)), frozen_heap():
                return _run(args)  # user_names: --instruments; frozen_heap: see backtest.collector
        except BacktestError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            # A path the user named that no command checked itself: still one line, exit 2.
            if exc.filename is None:
                raise
            error = os_error(exc, exc.filename, "cannot use this path", "check the path and try again")
            print(f"error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":
    sys.exit(main())
