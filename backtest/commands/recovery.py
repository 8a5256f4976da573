"""``backtest recovery``: how deep each event's drawdown went, how long it lasted, did it come back."""

from __future__ import annotations

import argparse
import warnings
from typing import TYPE_CHECKING

import pandas as pd

from backtest.commands._options import (
    add_input_options,
    add_out_option,
    add_scheduler_option,
    add_wide_option,
    inputs_from_args,
    positive_int,
    scheduler_from_args,
    subparser,
    write_out,
)
from backtest.errors import DataError, DataWarning, StudyError
from backtest.events import event_names

if TYPE_CHECKING:
    from backtest.scheduler import Mapper

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
"relapsed" = it fell back below that close later (the trough may come after the recovery);
"no (censored ...)" = not by the horizon or the end of the data (last date seen);
"no move" = never below the pre-event close (relief: never above it).
"from trough" = sessions from the trough to the first close back at the pre-event close.
The abnormal path is 1 + CAR(0,k), with abnormal returns from the event study's
--model (default: market model on [-250,-11], as in backtest run; market_adjusted =
stock minus its benchmark). Ratio +k = (P_k - P_trough) / (P_pre - P_trough), the climb
back from the trough: "-" before the trough day or without a move.
Shares recovered by day 5/20/60 are Kaplan-Meier (1958) estimates over the paths
that moved; "no move" paths are counted apart. A --horizon beyond the data is cut there.
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
    add_scheduler_option(parser)
    parser.add_argument("--horizon", type=positive_int, default=60, metavar="N",
                        help="sessions after the reaction session to follow (default 60)")
    parser.add_argument("--model", default="market",
                        help="normal-return model of the abnormal path (default: market)")
    parser.add_argument("--factors", nargs="+", metavar="SYMBOL",
                        help="--model factor: regressors after each symbol's benchmark, e.g. SOXX")
    parser.add_argument("--drift-free", action="store_true",
                        help="abnormal path without the fitted intercept (R - beta x R_m): a run-up "
                             "in the estimation window does not pass for an abnormal fall")
    add_wide_option(parser)
    add_out_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with scheduler_from_args(args) as mapper:
        return _run(args, mapper)


def _run(args: argparse.Namespace, mapper: Mapper) -> int:
    from backtest.recovery import data_horizon, recovery
    from backtest.study import event_study

    inputs = inputs_from_args(args, extra=args.factors or ())
    # The study's event window need not reach past the data: every pair is censored there anyway.
    reach = data_horizon(inputs.prices, inputs.alignment, inputs.calendars)
    capped = 0 < reach < args.horizon
    if capped:
        warnings.warn(f"--horizon {args.horizon} exceeds the data (at most {reach} sessions after a reaction "
                      "session): the paths are censored at the end of the data", DataWarning, stacklevel=1)
    study_error = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # The abnormal path follows the study's ARs from day -1 to the horizon (same model as backtest run).
        try:
            study = event_study(inputs.unit_prices(mapper.client is not None), inputs.alignment,
                                inputs.calendars, model=args.model,
                                factors=args.factors, event_window=(-1, reach if capped else args.horizon),
                                car_windows=((0, 0),), other_events=inputs.all_alignment, scheduler=mapper)
        except StudyError as exc:
            study, study_error = None, exc
        result = recovery(inputs.unit_prices(mapper.client is not None), inputs.alignment,
                          inputs.calendars, horizon=args.horizon, study=study,
                          drift_free=args.drift_free and study is not None, scheduler=mapper)
    if not result.table["measurable"].any():
        raise DataError(_nothing_measurable(result.table))
    for item in caught:
        if capped and str(item.message).startswith("missing returns in the event window"):
            continue  # the trailing sessions past the data: said once above, shown as censoring
        warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    if study_error is not None:
        # The study could not run (e.g. no pair has a return after its event); say which model the
        # abnormal paths fell back to rather than switching silently.
        warnings.warn(f"--model {args.model} could not run ({study_error}); the abnormal paths use "
                      "market-adjusted returns (stock minus benchmark) where the data allow",
                      DataWarning, stacklevel=1)
    _print(result, args.horizon, args.wide, event_names(inputs.events))
    if args.out:
        write_out(args.out, {"recovery": result.table, "recovery_summary": result.survival,
                             "recovery_paths": result.paths}, result.settings)
    return 0


def _nothing_measurable(table: pd.DataFrame) -> str:
    """One line: no row can be measured, with the first few reasons."""
    prices = table[table["path"] == "price"]
    reasons = [f"{r.symbol} in {r.event_id}: {r.unmeasured_reason}" for r in prices.itertuples()]
    more = f" and {len(reasons) - 3} more" if len(reasons) > 3 else ""
    listed = "; ".join(reasons[:3]) if reasons else "no event x symbol pair"
    return (f"nothing to measure: no event x symbol pair has prices on both sides of its event "
            f"({listed}{more}); check the event dates and the price source")




def _print(result: object, horizon: int, wide: bool, names: dict[str, str]) -> None:
    from backtest.report.tables import recovery_summary_table, recovery_table
    from backtest.report.terminal import make_console, print_table

    console = make_console(wide)
    table = recovery_table(result.table, horizon)  # type: ignore[attr-defined]
    print_table(console, table, title=f"{table.title} (horizon +{horizon} sessions)", group_titles=names)
    print_table(console, recovery_summary_table(result.survival), group=None)  # type: ignore[attr-defined]
