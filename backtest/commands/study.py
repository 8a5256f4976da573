"""``backtest study``: abnormal returns, CARs and significance tests around the events.

Thin: parses options, loads events and prices, calls :func:`backtest.study.event_study`
and renders the result with rich (CSV/JSON export of the tidy tables).
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from rich.text import Text

from backtest.commands._inference import add_inference_options, run_inference
from backtest.commands._options import (
    add_budget_option,
    add_input_options,
    add_out_option,
    add_scheduler_option,
    add_study_options,
    add_wide_option,
    benchmark_overrides,
    inputs_from_args,
    scheduler_from_args,
    subparser,
    trap_options,
    write_out,
)
from backtest.events import event_names
from backtest.formatting import SIGNIFICANCE_NOTE, format_marked, format_number, format_percent
from backtest.report.export import to_csv
from backtest.study.result import EventStudyResult

if TYPE_CHECKING:
    from backtest.report.tables import Table

EXAMPLES = """examples:
  backtest study
  backtest study --symbols NVDA 000660.KS --model market --estimation -250:-11 --window -5:20
  backtest study --event deepseek_r1 --car 0:0,0:5 --csv car.csv --json study.json
  backtest study --model factor --factors SOXX --symbols NVDA MU
  backtest study --placebo --bootstrap 999 --calendar-time --json study.json
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
    add_budget_option(p)
    add_scheduler_option(p)
    p.add_argument("--csv", metavar="FILE", help="write the CAR table (tidy) to CSV")
    p.add_argument("--json", metavar="FILE", help="write CARs, tests and fits to JSON")
    add_out_option(p)
    add_wide_option(p)
    add_inference_options(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``backtest study``."""
    from backtest.budget import budget_from, check_job
    from backtest.report.output import check_file_target, write_file
    from backtest.study import event_study

    for option, path in (("--csv", args.csv), ("--json", args.json)):
        if path:
            check_file_target(path, option)  # a doomed output fails before the study runs
    benchmarks = benchmark_overrides(args.benchmark)
    with scheduler_from_args(args) as mapper:
        inputs = inputs_from_args(args, benchmarks=benchmarks, extra=args.factors or ())
        check_job(pairs=len(inputs.alignment), budget=budget_from(args.max_memory),
                  estimation_window=args.estimation_window, event_window=args.event_window)
        # on a cluster with a parquet dataset each block reads its own symbols on its worker
        result = event_study(inputs.unit_prices(mapper.client is not None), inputs.alignment,
                             inputs.calendars, model=args.model,
                             estimation_window=args.estimation_window, event_window=args.event_window,
                             car_windows=args.car_windows, min_estimation=args.min_estimation,
                             benchmarks=benchmarks or None, factors=args.factors, return_kind=args.returns,
                             other_events=inputs.all_alignment, robustness=True, **trap_options(args),
                             scheduler=mapper)
    render(result, args.wide, event_names(inputs.events))
    inference = run_inference(args, result, inputs)
    if args.csv:  # single named files: each written atomically (temp file beside it, os.replace)
        write_file(args.csv, to_csv(result.car), "--csv")
    if args.json:
        payload = to_json(result)
        if inference is not None:
            payload["inference"] = {name: records(getattr(inference, name)) for name in INFERENCE_TABLES}
            payload["inference"]["settings"] = inference.settings
        write_file(args.json, json.dumps(payload, indent=2), "--json")
    if args.out:
        write_out(args.out, {"car": result.car, "tests": result.tests, "fits": result.fits,
                             "abnormal_returns": result.abnormal_returns, "aar": result.aar,
                             **({"robustness": result.robustness} if result.robustness is not None else {})},
                  result.settings)
    return 0


def _clean(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return None if value is pd.NaT else value.date().isoformat()
    return value


#: InferenceResult tables written to JSON (the placebo draws go to the CSV directory only)
INFERENCE_TABLES: tuple[str, ...] = ("placebo", "bootstrap", "calendar_time", "garch")


def records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows of a tidy table (NaN -> null, dates as ISO strings)."""
    return [{k: _clean(v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.to_dict("records")]


def to_json(result: EventStudyResult) -> dict:
    """CARs, tests, fits and settings as JSON-ready records (NaN -> null)."""

    settings = {k: (list(v) if isinstance(v, tuple) else v) for k, v in result.settings.items()}
    out = {"settings": json.loads(json.dumps(settings, default=str)), "car": records(result.car),
           "tests": records(result.tests), "fits": records(result.fits), "notes": result.trap_notes()}
    if result.robustness is not None:
        out["robustness"] = records(result.robustness)
    return out


def study_tables(result: EventStudyResult) -> list[Table]:
    """The display tables of a study: model fits, CARs, and the tests of each scope (windows across)."""
    from backtest.report.tables import Table, company_names

    s = result.settings
    fits = result.fits
    betas = [c for c in fits.columns if c.startswith("beta_")] or ["beta"]
    frame = pd.DataFrame({
        "event_id": fits["event_id"], "symbol": fits["symbol"], "name": company_names(fits["symbol"]),
        "benchmark": fits["benchmark"], "model_used": fits["model_used"],
        "n_estimation": fits["n_estimation"], "alpha": fits["alpha"], **{c: fits[c] for c in betas},
        "sigma": np.sqrt(fits["sigma2"]),
    })  # fmt: skip
    fit_table = Table(
        "fits", f"Normal-return model — {s['model']}, estimation {s['estimation_window']}", frame,
        {"n_estimation": "integer", "alpha": "signed_percent", "sigma": "percent",
         **{c: "number" for c in betas}},
        labels={"event_id": "event", "model_used": "model used", "n_estimation": "n est",
                **{c: c.replace("_", " ") for c in betas}},
        keys=("event_id", "symbol", "name"),
    )  # fmt: skip
    car = result.car
    counts = zip(car["n_missing"], car["complete"], strict=True)
    missing = [str(n) if done else f"{n} (outside the data)" for n, done in counts]
    frame = pd.DataFrame({
        "event_id": car["event_id"], "symbol": car["symbol"], "name": company_names(car["symbol"]),
        "window": car["window"], "car": car["car"], "t_stat": car["t_stat"], "p_value": car["p_value"],
        "bhar": car["bhar"], "n_missing": missing,
    })  # fmt: skip
    note = f"CAR t statistics use the full prediction-error variance; {SIGNIFICANCE_NOTE}."
    if not car["complete"].all():
        note += (" —: the window reaches before the pair's first or after its last price, or day 0 has no "
                 "return (a CAR over the days that exist would pass for the full window).")
    car_table = Table(
        "car", f"Cumulative abnormal returns — event window {s['event_window']}", frame,
        {"car": "signed_percent", "t_stat": "number", "p_value": "pvalue", "bhar": "signed_percent"},
        marks={"car": "p_value"}, labels={"event_id": "event", "car": "CAR", "t_stat": "t", "p_value": "p",
                                          "bhar": "BHAR", "n_missing": "missing"},
        keys=("event_id", "symbol", "name", "window"), right=("n_missing",), note=note,
    )  # fmt: skip
    tables = [fit_table, car_table, *_test_tables(result)]
    if result.robustness is not None:
        tables.append(robustness_display(result.robustness))
    return tables


def robustness_display(robustness: pd.DataFrame) -> Table:
    """The CARs under each normal-return model, one column per model (``depends``: sign or 5 %
    significance differs across them)."""
    from backtest.report.tables import Table
    from backtest.study.robustness import robustness_table

    wide = robustness_table(robustness)
    models = [c for c in wide.columns if c not in ("event_id", "symbol", "window")]
    return Table(
        "robustness", "CARs under each normal-return model", wide, {},
        labels={"event_id": "event", "market_adjusted": "mkt-adj", "constant_mean": "const-mean",
                "depends on model": "depends"},
        keys=("event_id", "symbol", "window"), right=tuple(models),
        note="depends: the CAR's sign or its 5 % significance differs across the models.",
    )  # fmt: skip


def _test_tables(result: EventStudyResult) -> list[Table]:
    """One table per scope: a row per test (with its null), a column per CAR window."""
    from backtest.report.tables import Table

    tests = result.tests
    windows = list(dict.fromkeys(result.car["window"]))
    scopes = list(dict.fromkeys(tests["scope"]))
    if len(scopes) == 2:  # one event: its scope and "all" are the same pairs
        scopes = scopes[:1]
    out = []
    for scope in scopes:
        block = tests[tests["scope"] == scope]
        first = block.drop_duplicates("window").set_index("window")
        rows = [
            {"test": "CAAR", "null": "",
             **{w: format_percent(first.loc[w, "caar"], signed=True) for w in windows}},
            {"test": "N (CARs)", "null": "", **{w: str(int(first.loc[w, "n"])) for w in windows}},
        ]
        notes: dict[str, list[str]] = {}
        for test, group in block.groupby("test", sort=False):
            by_window = group.set_index("window")
            label = test if test != "bmp_kp" else f"bmp_kp (r̄ {format_number(group['rbar'].iloc[0], 3)})"
            rows.append({"test": label, "null": ", ".join(dict.fromkeys(group["null"])),
                         **{w: format_marked(by_window.loc[w, "statistic"], by_window.loc[w, "p_value"])
                            for w in windows}})  # fmt: skip
            for w, note in zip(group["window"], group["note"], strict=True):
                if note:
                    notes.setdefault(f"{test}: {note}", []).append(w)
        out.append(Table(
            "tests", f"Cross-sectional tests — {scope} (n = {int(block['n'].max())})",
            pd.DataFrame(rows, columns=["test", "null", *windows]), {}, keys=("test",), right=tuple(windows),
            note=" ".join(f"note: {note} ({', '.join(where)})." for note, where in notes.items()),
        ))  # fmt: skip
    return out


def render(result: EventStudyResult, wide: bool = False, names: Mapping[str, str] | None = None) -> None:
    """Print the model fits, the CAR table and the cross-sectional tests, folded to the terminal.

    ``names`` (event_id -> name) titles the per-event blocks of a table too wide for the terminal.
    """
    from backtest.report.terminal import make_console, print_table

    console = make_console(wide)
    for table in study_tables(result):
        group = "event_id" if "event_id" in table.frame else None
        print_table(console, table, group=group, group_titles=names)
    for note in result.fits["warning"]:
        if isinstance(note, str) and note:
            console.print(Text(f"note: {note}"))
    for note in result.trap_notes():
        console.print(Text(f"note: {note}"))
