"""``backtest recovery``: how deep each event's drawdown went, how long it lasted, did it come back."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence

import pandas as pd

from backtest.errors import BacktestError, ParameterError, UnknownSymbolError
from backtest.instruments import get_instrument

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
The abnormal path is 1 + CAR(0,k) with market-adjusted returns (stock minus its
benchmark). Ratio +k = (P_k - P_trough) / (P_pre - P_trough), "-" without a drawdown.
Shares recovered by day 5/20/60 are Kaplan-Meier estimates (statsmodels).
"""


def _horizon(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of sessions; use e.g. 60") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1 session; use e.g. 60")
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "recovery",
        help="drawdown and recovery time after each event (prices and abnormal returns)",
        description="Depth of the drawdown after each event and the time to recover, per event x symbol, "
        "with a Kaplan-Meier summary across them.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=EPILOG,
    )
    parser.add_argument("--events", metavar="FILE",
                        help="events CSV (default: ./events.csv or the shipped one)")
    parser.add_argument("--symbols", nargs="+", metavar="SYMBOL",
                        help="symbols for every event (default: each event's own, else the default targets)")
    parser.add_argument("--horizon", type=_horizon, default=60, metavar="N",
                        help="sessions after the reaction session to follow (default 60)")
    parser.add_argument("--source", default="snapshot", choices=("snapshot", "csv", "yahoo"),
                        help="price source (default: snapshot)")
    parser.add_argument("--csv-dir", metavar="DIR", help="directory of SYMBOL.csv files for --source csv")
    parser.add_argument("--closures", metavar="FILE",
                        help="closures overrides CSV applied on top of the packaged one")
    parser.set_defaults(func=run)


def _symbols(events: pd.DataFrame, symbols: Sequence[str] | None) -> list[str]:
    from backtest.instruments import DEFAULT_TARGETS, get_instrument

    if symbols:
        targets = list(dict.fromkeys(symbols))
    else:
        targets = list(dict.fromkeys(s for own in events["symbols"] for s in (tuple(own) or DEFAULT_TARGETS)))
    benchmarks = [b for b in (get_instrument(s).benchmark for s in targets) if b]
    return list(dict.fromkeys(targets + benchmarks))


def run(args: argparse.Namespace) -> int:
    from backtest.alignment import align_symbols
    from backtest.calendars import ExchangeCalendars
    from backtest.events import load_events
    from backtest.recovery import recovery
    from backtest.sources import get_source, load_prices

    if args.horizon <= 0:  # also reachable from Python callers that build Namespaces by hand
        raise ParameterError(f"--horizon {args.horizon}: must be at least 1 session; use e.g. 60")
    if args.symbols:
        for symbol in args.symbols:
            try:
                get_instrument(symbol)
            except BacktestError as exc:
                raise UnknownSymbolError(f"--symbols: {exc}") from None
    if args.source == "csv" and not args.csv_dir:
        raise ParameterError("--source csv needs --csv-dir DIR (a directory of SYMBOL.csv files)")
    events = load_events(args.events)
    options = {"directory": args.csv_dir} if args.source == "csv" else {}
    prices = load_prices(_symbols(events, args.symbols), get_source(args.source, **options))
    calendars = ExchangeCalendars.from_prices(prices, overrides=args.closures)
    alignment = align_symbols(events, calendars, args.symbols)
    result = recovery(prices, alignment, calendars, horizon=args.horizon)
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
