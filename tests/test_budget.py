"""Size budgets: estimates from a job's shape, refusals before any allocation."""

from __future__ import annotations

import pytest

from backtest.budget import DEFAULT_BUDGET, budget_from, check_job, job_bytes, parse_size
from backtest.cli import main
from backtest.errors import BudgetError, ParameterError


def test_job_bytes_by_hand():
    # 2 pairs x 8 bytes x (16 x (240 + 26) study + 8 x 61 recovery + 3 combos x 24 x 62 trade)
    assert job_bytes(pairs=2, estimation_sessions=240, event_sessions=26, horizon=60, combos=3) == (
        2 * 8 * (16 * 266 + 8 * 61 + 3 * 24 * 62)
    )
    assert job_bytes(pairs=5, event_sessions=10) == 5 * 8 * 16 * 10  # no horizon: no trading term


def test_sizes_and_budget_sources(monkeypatch):
    assert parse_size("16G") == 16 * 2**30 and parse_size("512 MiB") == 512 * 2**20
    for bad in ("lots", "-1G", "0", "4X"):
        with pytest.raises(ParameterError):
            parse_size(bad)
    monkeypatch.delenv("BACKTEST_MAX_MEMORY", raising=False)
    assert budget_from(None) == DEFAULT_BUDGET == 4 * 2**30
    monkeypatch.setenv("BACKTEST_MAX_MEMORY", "1G")
    assert budget_from(None) == 2**30 and budget_from("2G") == 2 * 2**30


def test_grid_of_a_million_combinations_is_refused_with_the_fix():
    # 16 pairs x 10^6 combos x 24 arrays x 62 sessions x 8 bytes = 177 GiB
    expected = r"about 177\.4 GiB .*1,000,000 grid combinations.*--max-memory 178G"
    with pytest.raises(BudgetError, match=expected):
        check_job(pairs=16, budget=DEFAULT_BUDGET, horizon=60, combos=10**6)
    check_job(pairs=16, budget=DEFAULT_BUDGET, horizon=60, combos=1000)  # bench_trade's size passes


def test_run_refuses_before_the_numerics(monkeypatch, capsys, tmp_path):
    from backtest import study

    def no_study(*args, **kwargs):
        raise AssertionError("the event study must not start over budget")

    monkeypatch.setattr(study, "event_study", no_study)
    code = main(["run", "--quiet", "--max-memory", "1K", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: this job needs about ") and err.count("\n") == 1
    assert "over the 1.0 KiB budget" in err and not (tmp_path / "out").exists()


@pytest.mark.parametrize("option", ["--window", "--estimation"])
def test_absurd_windows_are_refused_by_the_parser(capsys, option):
    value = "0:1000000000" if option == "--window" else "-1000000000:-11"
    assert main(["study", option, value]) == 2
    err = capsys.readouterr().err
    assert "1,000,000,000 sessions from day 0" in err and err.count("\n") == 1
