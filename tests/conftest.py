"""Shared test set-up.

``default_run``: the default job (``backtest run``: packaged events, the four targets, the
default grid) run once per session, in-process, from an empty directory, at 100 columns;
the tests that only read its output share it (a full run is the slowest thing in the suite).

numba (through vectorbt) compiles on first use; the package keeps its disk cache in the user
cache directory (``backtest.numba_cache_dir``), so that cost is paid once per machine, not per run.
"""

from __future__ import annotations

import contextlib
import io
import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """``{"code", "out", "err", "dir"}`` of ``backtest run`` with no options (COLUMNS=100)."""
    from backtest.cli import main

    cwd = tmp_path_factory.mktemp("cli")
    # capsys is function-scoped; a session fixture redirects the streams itself
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)  # no ./events.csv here: the packaged copy is used
        patch.setenv("COLUMNS", "100")  # the width the terminal tables must fit (test_cli_width)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["run"])
    return {"code": code, "out": out.getvalue(), "err": err.getvalue(), "dir": cwd / "out"}
