"""``backtest events [FILE]``: validate an events file and show each market's reaction session."""

from __future__ import annotations

import argparse
import textwrap
from typing import TYPE_CHECKING

from backtest.errors import BacktestError, UnknownSymbolError

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
    parser = subparsers.add_parser(
        "events",
        help="validate an events file and print each exchange's reaction session",
        description="Validate an events file and print the reaction session of every event "
        "on every exchange of the requested symbols.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
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
    parser.add_argument("--check", action="store_true", help="only validate; print a one-line summary")
    parser.set_defaults(func=run)


def _check_symbols(symbols: list[str] | None) -> list[str] | None:
    if symbols is None:
        return None
    from backtest.instruments import get_instrument

    for symbol in symbols:
        try:
            get_instrument(symbol)
        except BacktestError as exc:
            raise UnknownSymbolError(f"--symbols: {exc}") from None
    return symbols


def run(args: argparse.Namespace) -> int:
    """Handler of ``backtest events``."""
    from backtest.alignment import align_events
    from backtest.calendars import ExchangeCalendars
    from backtest.events import default_events_path, load_events
    from backtest.sources import get_source, load_prices

    symbols = _check_symbols(args.symbols)
    path = args.file if args.file is not None else default_events_path()
    events = load_events(path)
    source = get_source("snapshot")
    prices = load_prices(source.symbols(), source)
    calendars = ExchangeCalendars.from_prices(prices, overrides=args.closures)
    table = align_events(events, calendars, symbols)
    if args.check:
        exchanges = sorted(set(table["exchange"]))
        print(f"{path}: {len(events)} events OK, aligned on {', '.join(exchanges)}")
        return 0
    _print_table(events, table, str(path))
    return 0


def _print_table(events: pd.DataFrame, table: pd.DataFrame, title: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not console.is_terminal:
        console = Console(width=max(console.width, 150))
    names = dict(zip(events["event_id"], events["name"], strict=True))
    out = Table(title=f"Reaction sessions ({title})", title_justify="left")
    for header, style in (
        ("event", "bold"), ("kind", None), ("announced (UTC)", None), ("exchange", None),
        ("local time", None), ("day 0", "bold"), ("intraday", None),
    ):
        out.add_column(header, style=style, no_wrap=header != "event")
    event_ids = list(table["event_id"])
    for i, row in enumerate(table.itertuples(index=False)):
        first = i == 0 or event_ids[i - 1] != row.event_id
        last = i == len(event_ids) - 1 or event_ids[i + 1] != row.event_id
        out.add_row(
            f"{row.event_id}\n[dim]{names[row.event_id]}[/dim]" if first else "",
            row.kind if first else "",
            row.announced_utc.strftime("%Y-%m-%d %H:%M") if first else "",
            row.exchange,
            row.announced_local.strftime("%Y-%m-%d %H:%M %Z"),
            row.reaction_session.strftime("%Y-%m-%d %a"),
            "yes" if row.intraday else "",
            end_section=last,
        )
    console.print(out)
