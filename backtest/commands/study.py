"""``backtest study``: abnormal returns, CARs and significance tests around the events.

Thin: parses options, loads events and prices, calls :func:`backtest.study.event_study`
and renders the result with rich (CSV/JSON export of the tidy tables).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

import pandas as pd

from backtest.commands._options import (
    add_input_options,
    add_study_options,
    benchmark_overrides,
    inputs_from_args,
    subparser,
)
from backtest.formatting import SIGNIFICANCE_NOTE, format_marked, format_number, format_percent, format_pvalue
from backtest.study.result import EventStudyResult

EXAMPLES = """examples:
  backtest study
  backtest study --symbols NVDA 000660.KS --model market --estimation -250:-11 --window -5:20
  backtest study --event deepseek_r1 --car 0:0,0:5 --csv car.csv --json study.json
  backtest study --model factor --factors SOXX --symbols NVDA MU
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``study`` command."""
    p = subparser(
        subparsers, "study", help="event study: abnormal returns, CARs and significance tests",
        description="Event study around each event: abnormal returns, CARs and cross-sectional tests "
                    "(* p<0.10, ** p<0.05, *** p<0.01, two-sided).",
        epilog=EXAMPLES,
    )
    add_input_options(p)
    add_study_options(p)
    p.add_argument("--csv", metavar="FILE", help="write the CAR table (tidy) to CSV")
    p.add_argument("--json", metavar="FILE", help="write CARs, tests and fits to JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``backtest study``."""
    from backtest.study import event_study

    benchmarks = benchmark_overrides(args.benchmark)
    inputs = inputs_from_args(args, benchmarks=benchmarks, extra=args.factors or ())
    result = event_study(inputs.prices, inputs.alignment, inputs.calendars, model=args.model,
                         estimation_window=args.estimation_window, event_window=args.event_window,
                         car_windows=args.car_windows, min_estimation=args.min_estimation,
                         benchmarks=benchmarks or None, factors=args.factors, return_kind=args.returns)
    render(result)
    if args.csv:
        result.car.to_csv(args.csv, index=False)
    if args.json:
        Path(args.json).write_text(json.dumps(to_json(result), indent=2), encoding="utf-8")
    return 0


def _clean(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if value is pd.NaT else value.date().isoformat()
    return value


def to_json(result: EventStudyResult) -> dict:
    """CARs, tests, fits and settings as JSON-ready records (NaN -> null)."""

    def records(frame: pd.DataFrame) -> list[dict]:
        return [{k: _clean(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
                for row in frame.to_dict("records")]

    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in result.settings.items()}
    return {"settings": json.loads(json.dumps(settings, default=str)), "car": records(result.car),
            "tests": records(result.tests), "fits": records(result.fits)}


def render(result: EventStudyResult) -> None:
    """Print the CAR table and the cross-sectional tests with rich."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    # A pipe or file gets a wide page (nothing cut); a terminal or $COLUMNS sets its own width.
    console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 200)
    s = result.settings
    windows = list(dict.fromkeys(result.car["window"]))
    fits = Table(title=f"Normal-return model — {s['model']}, estimation {s['estimation_window']}",
                 box=box.SIMPLE_HEAD)
    factor_betas = [c for c in result.fits.columns if c.startswith("beta_")]
    beta_cols = factor_betas or ["beta"]
    for name in ("event", "symbol", "benchmark", "model used", "n est", "alpha",
                 *(c.replace("_", " ") for c in beta_cols), "sigma"):
        fits.add_column(name, no_wrap=True, justify="left" if name in ("event", "symbol") else "right")
    for row in result.fits.to_dict("records"):
        sigma2 = row["sigma2"]
        fits.add_row(str(row["event_id"]), str(row["symbol"]), str(row["benchmark"]), str(row["model_used"]),
                     str(row["n_estimation"]), format_percent(row["alpha"], 3, signed=True),
                     *(format_number(row[c]) for c in beta_cols),
                     format_percent(math.sqrt(sigma2) if math.isfinite(sigma2) else None))
    console.print(fits)
    table = Table(title=f"Cumulative abnormal returns — event window {s['event_window']}",
                  box=box.SIMPLE_HEAD)
    for name in ("event", "symbol", "window", "CAR", "t", "p", "BHAR", "missing"):
        table.add_column(name, no_wrap=True, justify="left" if name in ("event", "symbol") else "right")
    previous = None
    for row in result.car.itertuples(index=False):
        pair = (row.event_id, row.symbol)
        missing = str(row.n_missing) if row.complete else f"{row.n_missing} (outside the data)"
        table.add_row(*(map(str, pair) if pair != previous else ("", "")), row.window,
                      format_marked(row.car, row.p_value, "signed_percent"), format_number(row.t_stat),
                      format_pvalue(row.p_value), format_percent(row.bhar, signed=True), missing)
        previous = pair
    console.print(table)
    console.print(f"CAR t statistics use the full prediction-error variance; {SIGNIFICANCE_NOTE}")
    if not result.car["complete"].all():
        console.print("n/a: the window reaches before the pair's first or after its last price, or "
                      "day 0 has no return (a CAR over the days that exist would pass for the full window)")

    tests = result.tests
    scopes = list(dict.fromkeys(tests["scope"]))
    if len(scopes) == 2:  # one event: its scope and "all" are the same pairs
        scopes = scopes[:1]
    for scope in scopes:
        block = tests[tests["scope"] == scope]
        t = Table(title=f"Cross-sectional tests — {scope} (n = {int(block['n'].max())})",
                  box=box.SIMPLE_HEAD)
        t.add_column("test", no_wrap=True)
        t.add_column("null", no_wrap=True)
        for w in windows:
            t.add_column(w, justify="right")
        first = block.drop_duplicates("window").set_index("window")
        t.add_row("CAAR", "", *(format_percent(first.loc[w, "caar"], signed=True) for w in windows))
        t.add_row("N (CARs)", "", *(str(int(first.loc[w, "n"])) if first.loc[w, "test"] ==
                                    "cross_sectional_t" else "" for w in windows), end_section=True)
        notes: dict[str, list[str]] = {}
        for test, group in block.groupby("test", sort=False):
            by_window = group.set_index("window")
            nulls = ", ".join(dict.fromkeys(group["null"]))
            label = test
            if test == "bmp_kp":
                label = f"bmp_kp (r̄ {format_number(group['rbar'].iloc[0], 3)})"
            marked = (format_marked(by_window.loc[w, "statistic"], by_window.loc[w, "p_value"])
                      for w in windows)
            t.add_row(label, nulls, *marked)
            for w, note in zip(group["window"], group["note"], strict=True):
                if note:
                    notes.setdefault(f"{test}: {note}", []).append(w)
        console.print(t)
        for note, where in notes.items():
            console.print(f"note: {note} ({', '.join(where)})")
    for note in result.fits["warning"]:
        if isinstance(note, str) and note:
            console.print(f"note: {note}")
