"""The install survives: numba never writes into the installed package, and CI runs the README."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import backtest

ROOT = Path(__file__).resolve().parents[1]


def test_numba_cache_goes_to_the_user_cache_dir_not_the_package(tmp_path):
    # A fresh interpreter with no NUMBA_CACHE_DIR and a private user cache dir imports the package
    # and compiles a cache=True kernel: the compiled files land under XDG_CACHE_HOME/backtest/numba
    # and none beside the package's modules.
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    code = textwrap.dedent(
        """
        import os
        import backtest
        import numba
        print(os.environ["NUMBA_CACHE_DIR"])

        @numba.njit(cache=True)
        def _probe(x):
            return x + 1

        _probe(1)
        """
    )
    script = tmp_path / "probe.py"
    script.write_text(code)
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, env=env, check=True
    ).stdout.splitlines()
    assert out[0] == str(tmp_path / "xdg" / "backtest" / "numba")
    written = list((tmp_path / "xdg" / "backtest" / "numba").rglob("*.nbi"))
    assert written, "numba wrote no index file into the user cache dir"
    package_dir = Path(backtest.__file__).parent
    assert not list(package_dir.rglob("*.nbi")) and not list(package_dir.rglob("*.nbc"))


def test_an_explicit_numba_cache_dir_is_kept(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "mine"))
    out = subprocess.run(
        [sys.executable, "-c", "import backtest, numba; print(numba.config.CACHE_DIR)"],
        capture_output=True, text=True, env=env, check=True,
    ).stdout.strip()
    assert out == str(tmp_path / "mine")


def test_ci_runs_the_readme_two_commands_in_order():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Two commands", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]
    assert len(commands) == 2
    assert "pip install -q ." in commands[0] and "backtest run" in commands[0]
    assert "pytest" in commands[1]
    # .ci/run extracts them with awk; run that extraction and compare.
    ci = (ROOT / ".ci" / "run").read_text()
    awk = re.search(r"awk '(.*?)' README.md", ci, flags=re.S).group(1)
    extracted = subprocess.run(
        ["awk", awk, str(ROOT / "README.md")], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert extracted == commands
