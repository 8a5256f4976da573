"""``backtest data``: list the available price data and fetch prices from Yahoo."""

from __future__ import annotations

import argparse
import sys

from backtest.errors import BacktestError, ParameterError

LIST_EPILOG = """examples:
  backtest data list                                   # the embedded snapshot (default)
  backtest data list --source csv --csv-dir my_prices  # your files: my_prices/NVDA.csv, ...
  backtest data list --source yahoo                    # what is in the download cache
"""

FETCH_EPILOG = """examples:
  backtest data fetch NVDA 000660.KS 285A.T --source yahoo
  backtest data fetch SPY --start 2020-01-01 --end 2026-06-30
  backtest data fetch ^N225 --cache-dir ./cache    # or set BACKTEST_CACHE_DIR

A fetch replaces the symbol's cached series; a failed or empty download keeps the old one.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``backtest data list`` and ``backtest data fetch``."""
    data = subparsers.add_parser(
        "data",
        help="list or fetch price data",
        description="List the available price data or fetch prices from Yahoo.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  backtest data list                          # the embedded snapshot: 16 symbols\n"
        "  backtest data list --source csv --csv-dir my_prices\n"
        "  backtest data fetch 7203.T AAPL --source yahoo --start 2024-01-01",
    )
    actions = data.add_subparsers(dest="data_command", metavar="ACTION")
    data.set_defaults(func=lambda args: _usage(data))

    listing = actions.add_parser(
        "list",
        help="table of the symbols a price source has",
        description="Table of symbol, name, exchange, first and last date, rows and source.",
        epilog=LIST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument(
        "--source",
        default="snapshot",
        choices=("snapshot", "csv", "yahoo"),
        help="price source (default: snapshot, the embedded data)",
    )
    listing.add_argument(
        "--csv-dir",
        "--dir",  # the option's first name, kept as an alias
        dest="directory",
        metavar="DIR",
        help="directory of SYMBOL.csv files for --source csv (alias: --dir)",
    )
    listing.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="download cache (with --source yahoo; default $BACKTEST_CACHE_DIR or user cache)",
    )
    listing.set_defaults(func=run_list)

    fetch = actions.add_parser(
        "fetch",
        help="download prices from Yahoo into the cache",
        description="Download adjusted daily bars from Yahoo Finance and store them in the cache.",
        epilog=FETCH_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fetch.add_argument(
        "symbols", nargs="+", metavar="SYMBOL", help="Yahoo tickers, e.g. NVDA 005930.KS 285A.T"
    )
    fetch.add_argument("--source", default="yahoo", choices=("yahoo",), help="where to fetch from (yahoo)")
    fetch.add_argument("--start", metavar="YYYY-MM-DD", help="first date (default 2015-01-01)")
    fetch.add_argument("--end", metavar="YYYY-MM-DD", help="last date, inclusive (default: latest)")
    fetch.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="cache directory (default $BACKTEST_CACHE_DIR or the user cache dir)",
    )
    fetch.set_defaults(func=run_fetch)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _console():
    from rich.console import Console

    # Wide enough for the table when stdout is a pipe or a file (rich assumes 80 columns then).
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120, markup=False, emoji=False)


def _source(args: argparse.Namespace):
    from backtest.sources import get_source

    if args.directory and args.source != "csv":
        raise ParameterError(f"--csv-dir applies to --source csv only, not --source {args.source}")
    if args.cache_dir and args.source != "yahoo":
        raise ParameterError(f"--cache-dir applies to --source yahoo only, not --source {args.source}")
    if args.source == "csv":
        if not args.directory:
            raise ParameterError("--source csv needs --csv-dir DIR (a directory of SYMBOL.csv files)")
        return get_source("csv", directory=args.directory)
    if args.source == "yahoo":
        return get_source("yahoo", cache_dir=args.cache_dir)
    return get_source("snapshot")


def run_list(args: argparse.Namespace) -> int:
    """Print one row per symbol the source has."""
    from rich.table import Table

    from backtest.instruments import get_instrument

    source = _source(args)
    symbols = source.symbols()
    where = getattr(source, "directory", None) or getattr(getattr(source, "cache", None), "directory", "")
    table = Table(title=f"{len(symbols)} symbol(s) from {args.source}: {where}")
    for name, justify in (
        ("symbol", "left"),
        ("name", "left"),
        ("exchange", "left"),
        ("first date", "left"),
        ("last date", "left"),
        ("rows", "right"),
        ("source", "left"),
    ):
        table.add_column(name, justify=justify, no_wrap=name != "name")
    for symbol in symbols:
        bars = source.load(symbol)
        instrument = get_instrument(symbol)
        table.add_row(
            symbol,
            instrument.name,
            instrument.exchange,
            str(bars.index[0].date()),
            str(bars.index[-1].date()),
            str(len(bars)),
            source.name,
        )
    _console().print(table)
    if not symbols:
        hint = "; fill it with: backtest data fetch SYMBOL..." if args.source == "yahoo" else ""
        print(f"no price files in {where}{hint}", file=sys.stderr)
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    """Download each symbol (one at a time, with a progress bar) into the cache."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from backtest.instruments import get_instrument
    from backtest.sources import get_source

    symbols = list(dict.fromkeys(args.symbols))
    for symbol in symbols:  # every bad symbol is reported before anything is downloaded
        get_instrument(symbol)
    source = get_source("yahoo", cache_dir=args.cache_dir, start=args.start or None, end=args.end or None)
    errors: dict[str, BacktestError] = {}
    table = Table(title=f"cache: {source.cache.directory}")
    for name in ("symbol", "first date", "last date", "rows", "file"):
        table.add_column(name, justify="right" if name == "rows" else "left", no_wrap=True)
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=sys.stderr, markup=False, emoji=False),
        transient=True,
    )
    with progress:
        task = progress.add_task("fetching", total=len(symbols))
        for symbol in symbols:
            progress.update(task, description=f"fetching {symbol}")
            try:
                result = source.fetch([symbol])
            except BacktestError as exc:
                result = None
                errors[symbol] = exc
            if result is not None:
                errors.update(result.errors)
                for name, bars in result.bars.items():
                    table.add_row(
                        name,
                        str(bars.index[0].date()),
                        str(bars.index[-1].date()),
                        str(len(bars)),
                        str(result.paths[name].name),
                    )
            progress.advance(task)
    if table.row_count:
        _console().print(table)
    for exc in errors.values():
        print(f"error: {exc}", file=sys.stderr)
    return 2 if errors else 0
