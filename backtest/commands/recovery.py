"""``backtest recovery``: how deep each event's drawdown went, how long it lasted, did it come back."""

from __future__ import annotations

import argparse
import math
import warnings

import pandas as pd

from backtest.commands._options import add_input_options, inputs_from_args, positive_int, subparser
from backtest.errors import DataWarning, ParameterError, StudyError

EPILOG = """\
examples:
  backtest recovery
      the shipped events on their symbols (default targets NVDA 000660.KS 005930.KS 285A.T)
  backtest recovery --horizon 20 --symbols NVDA MU
  backtest recovery --events my_events.csv --horizon 120
  backtest recovery --source csv --csv-dir my_prices --symbols 7203.T

Shock events measure the drawdown below the pre-event close (day -1) and the
climb back; relief events (kind = relief) measure the give-back of the jump.
"recovered +k" = first session k >= 0 with a close back at the pre-event close;
"no (censored ...)" = not by the horizon or the end of the data (last date seen).
The abnormal path is 1 + CAR(0,k), with abnormal returns from the event study's
--model (default: market model on [-250,-11], as in backtest run; market_adjusted =
stock minus its benchmark). Ratio +k = (P_k - P_trough) / (P_pre - P_trough), "-" without a drawdown.
Shares recovered by day 5/20/60 are Kaplan-Meier estimates (statsmodels).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparser(
        subparsers,
        "recovery",
        help="drawdown and recovery time after each event (prices and abnormal returns)",
        description="Depth of the drawdown after each event and the time to recover, per event x symbol, "
        "with a Kaplan-Meier summary across them.",
        epilog=EPILOG,
    )
    add_input_options(parser)
    parser.add_argument("--horizon", type=positive_int, default=60, metavar="N",
                        help="sessions after the reaction session to follow (default 60)")
    parser.add_argument("--model", default="market",
                        help="normal-return model of the abnormal path (default: market)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from backtest.recovery import recovery
    from backtest.study import event_study

    if args.horizon <= 0:  # also reachable from Python callers that build Namespaces by hand
        raise ParameterError(f"--horizon {args.horizon}: must be at least 1 session; use e.g. 60")
    inputs = inputs_from_args(args)
    # The abnormal path follows the study's ARs from day -1 to the horizon (same model as backtest run).
    try:
        study = event_study(inputs.prices, inputs.alignment, inputs.calendars, model=args.model,
                            event_window=(-1, args.horizon), car_windows=((0, 0),))
    except StudyError as exc:
        # No pair has any return after its event: the price paths still say "censored", explicitly.
        warnings.warn(f"abnormal paths not computed: {exc}", DataWarning, stacklevel=1)
        study = None
    result = recovery(inputs.prices, inputs.alignment, inputs.calendars, horizon=args.horizon, study=study)
    _print(result, args.horizon)
    return 0


def _pct(value: object) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value) * 100:+.2f} %"


def _ratio(value: object) -> str:
    return "-" if value is None or pd.isna(value) else f"{float(value):.2f}"


def _recovery_cell(row: pd.Series) -> str:
    if row["recovered"]:
        return f"+{row['recovery_sessions']} ({row['recovery_date']:%Y-%m-%d}, {row['recovery_days']} d)"
    if pd.isna(row["duration_sessions"]):
        seen = "no data" if pd.isna(row["last_date_seen"]) else f"{row['last_date_seen']:%Y-%m-%d}"
        return f"no (censored: nothing after the event, data end {seen})"
    return (f"no (censored {row['last_date_seen']:%Y-%m-%d}, +{row['last_rel_day']}, "
            f"{str(row['censored_by']).replace('_', ' ')})")


def _print(result: object, horizon: int) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=220)
    table = Table(title=f"Recovery after each event (horizon +{horizon} sessions)", show_lines=False)
    for name, justify in [("event", "left"), ("symbol", "left"), ("path", "left"), ("direction", "left"),
                          ("day 0", "right"), ("trough / peak", "left"), ("max move", "right"),
                          ("recovered", "left"), ("ratio +5", "right"), ("ratio +20", "right"),
                          ("ratio +60", "right"), ("half-life", "right"), ("missing", "right")]:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for _, row in result.table.iterrows():  # type: ignore[attr-defined]
        trough = ("-" if pd.isna(row["trough_rel_day"])
                  else f"+{row['trough_rel_day']} ({row['trough_date']:%Y-%m-%d})")
        half = "-" if pd.isna(row["half_life_sessions"]) else f"+{row['half_life_sessions']}"
        table.add_row(str(row["event_id"]), str(row["symbol"]), str(row["path"]), str(row["direction"]),
                      _pct(row["reaction_return"]), trough, _pct(row["max_drawdown"]), _recovery_cell(row),
                      _ratio(row.get("ratio_5")), _ratio(row.get("ratio_20")), _ratio(row.get("ratio_60")),
                      half, str(row["n_missing"]))
    console.print(table)

    summary = Table(title="Across events and symbols (Kaplan-Meier, censoring handled)")
    for name in ("path", "direction", "n", "recovered", "censored", "median sessions (recovered)",
                 "KM median", "median max move", "by +5", "by +20", "by +60"):
        summary.add_column(name, justify="left" if name in ("path", "direction") else "right")
    for _, row in result.summary.iterrows():  # type: ignore[attr-defined]
        def share(d: int, row: pd.Series = row) -> str:
            value = row.get(f"share_recovered_{d}")
            return "-" if value is None or pd.isna(value) else f"{value * 100:.0f} %"

        median = row["median_recovery_sessions"]
        km = row["km_median_sessions"]
        summary.add_row(str(row["path"]), str(row["direction"]), str(row["n"]), str(row["n_recovered"]),
                        str(row["n_censored"]), "-" if math.isnan(median) else f"{median:g}",
                        "not reached" if math.isnan(km) else f"{km:g}", _pct(row["median_max_drawdown"]),
                        share(5), share(20), share(60))
    console.print(summary)
