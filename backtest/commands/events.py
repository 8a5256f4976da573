"""``backtest events [FILE]``: validate an events file and show each market's reaction session."""

from __future__ import annotations

import argparse
import textwrap
from typing import TYPE_CHECKING

from backtest.commands._options import (
    add_instruments_option,
    add_out_option,
    add_wide_option,
    check_symbols,
    subparser,
    write_out,
)
from backtest.errors import UnknownSymbolError
from backtest.sources import SOURCE_NAMES

if TYPE_CHECKING:
    import pandas as pd

EPILOG = textwrap.dedent(
    """\
    The reaction session (day 0) on each exchange is the first session whose close
    is strictly after announced_at; "intraday" means the announcement fell inside
    that session. Calendars are pandas-market-calendars schedules reconciled with
    the embedded price snapshot and the closures files.

    examples:
      backtest events                         # ./events.csv, or the packaged copy
      backtest events my_events.csv --check   # validate only
      backtest events --symbols NVDA SPY 6857.T
      backtest events my_events.csv --symbols 000660.KS 8035.T   # FILE before --symbols
      backtest events --closures my_closures.csv
    """
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``events`` subcommand."""
    parser = subparser(
        subparsers,
        "events",
        help="validate an events file and print each exchange's reaction session",
        description="Validate an events file and print the reaction session of every event "
        "on every exchange of the requested symbols.",
        epilog=EPILOG,
    )
    parser.add_argument(
        "file", nargs="?", default=None, metavar="FILE",
        help="events CSV (default: ./events.csv, else the packaged copy)",
    )
    parser.add_argument(
        "--symbols", nargs="+", metavar="SYMBOL", default=None,
        help="symbols whose exchanges to align (default: each event's own symbols, "
        "else NVDA 000660.KS 005930.KS 285A.T)",
    )
    parser.add_argument(
        "--closures", metavar="FILE", default=None,
        help="closures overrides CSV (calendar,date,action,note), applied on top of the packaged one",
    )
    parser.add_argument("--source", default="snapshot", choices=SOURCE_NAMES,
                        help="price source whose symbols are checked and whose data reconcile the calendars")
    parser.add_argument("--csv-dir", metavar="DIR", help="directory of SYMBOL.csv files for --source csv")
    parser.add_argument("--cache-dir", metavar="DIR", help="cache directory for --source yahoo")
    parser.add_argument("--path", metavar="DIR", help="parquet dataset for --source parquet (dir or URL)")
    parser.add_argument("--check", action="store_true", help="only validate; print a one-line summary")
    add_instruments_option(parser)
    add_wide_option(parser)
    add_out_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``backtest events``."""
    from backtest.alignment import align_events
    from backtest.calendars import ExchangeCalendars
    from backtest.events import default_events_path, load_events
    from backtest.inputs import offline_symbols, open_source
    from backtest.sources import load_prices

    symbols = check_symbols("--symbols", args.symbols)
    source = open_source(args.source, csv_dir=args.csv_dir, cache_dir=args.cache_dir, path=args.path)
    available = offline_symbols(source)
    for symbol in symbols or ():
        if available is not None and symbol not in available:
            raise UnknownSymbolError(
                f"--symbols: {symbol!r} has no prices in --source {args.source}; "
                "use --source yahoo or --source csv"
            )
    path = args.file if args.file is not None else default_events_path()
    events = load_events(path, available=None if symbols else available)  # --symbols replaces them
    # Every series the source holds offline reconciles the calendars (closures seen in the data).
    prices = load_prices(available if available is not None else source.symbols(), source)
    calendars = ExchangeCalendars.from_prices(prices, overrides=args.closures)
    table = align_events(events, calendars, symbols)
    _warn_outside_data(table, calendars)
    if args.check:
        exchanges = sorted(set(table["exchange"]))
        print(f"{path}: {len(events)} events OK, aligned on {', '.join(exchanges)}")
        return 0
    _print_table(events, table, str(path), args.wide)
    if args.out:
        settings = {"events": str(path), "symbols": symbols, "source": args.source, "closures": args.closures}
        write_out(args.out, {"events": events, "alignment": table}, settings)
    return 0


def _warn_outside_data(table: pd.DataFrame, calendars: object) -> None:
    """One DataWarning for reaction sessions outside the range the price data reconcile."""
    import warnings

    from backtest.errors import DataWarning

    outside = []
    for row in table.itertuples():
        span = calendars.data_span(row.calendar)  # type: ignore[attr-defined]
        if span is None or not span[0] <= row.reaction_session <= span[1]:
            reach = "no price data" if span is None else f"data {span[0]:%Y-%m-%d}..{span[1]:%Y-%m-%d}"
            outside.append(f"{row.event_id} on {row.exchange} ({row.reaction_session:%Y-%m-%d}; {reach})")
    if outside:
        warnings.warn(
            "reaction sessions outside the price data, from the library calendar alone (closures "
            f"the data would reveal are unknown; no prices to study): {'; '.join(outside)}",
            DataWarning,
            stacklevel=2,
        )


def _print_table(events: pd.DataFrame, table: pd.DataFrame, title: str, wide: bool) -> None:
    import pandas as pd

    from backtest.events import event_names
    from backtest.report.tables import Table
    from backtest.report.terminal import make_console, print_table

    names = event_names(events)
    frame = pd.DataFrame({
        "event_id": table["event_id"].astype(str), "name": [names[e] for e in table["event_id"].astype(str)],
        "kind": table["kind"],
        "announced_utc": [t.strftime("%Y-%m-%d %H:%M UTC") for t in table["announced_utc"]],
        "exchange": table["exchange"],
        "announced_local": [t.strftime("%Y-%m-%d %H:%M %Z") for t in table["announced_local"]],
        "reaction_session": [t.strftime("%Y-%m-%d %a") for t in table["reaction_session"]],
        "intraday": ["yes" if x else "" for x in table["intraday"]],
    })  # fmt: skip
    shown = Table(
        "alignment", f"Reaction sessions ({title})", frame, {},
        labels={"event_id": "event", "announced_utc": "announced", "announced_local": "local time",
                "reaction_session": "day 0"},
        keys=("event_id", "exchange"),
    )  # fmt: skip
    print_table(make_console(wide), shown, group_columns=("name", "kind", "announced_utc"))
