"""``backtest data``: list the available price data, fetch prices from Yahoo, export a dataset."""

from __future__ import annotations

import argparse
import sys

from backtest.errors import BacktestError, ParameterError

LIST_EPILOG = """examples:
  backtest data list                                   # the embedded snapshot (default)
  backtest data list --source csv --csv-dir my_prices  # your files: my_prices/NVDA.csv, ...
  backtest data list --source yahoo                    # what is in the download cache
  backtest data list --source parquet --path prices    # a partitioned parquet dataset
"""

EXPORT_EPILOG = """examples:
  backtest data export --to prices                     # the embedded snapshot as a parquet dataset
  backtest data export NVDA SPY --source yahoo --to s3://bucket/prices
  backtest data export --source csv --csv-dir my_prices --to prices

The dataset has one partition per symbol (prices/symbol=NVDA/part-0.parquet); read it with
--source parquet --path prices. A local target is replaced as one set; a failure keeps the old one.
"""

FETCH_EPILOG = """examples:
  backtest data fetch NVDA 000660.KS 285A.T --source yahoo
  backtest data fetch SPY --start 2020-01-01 --end 2026-06-30
  backtest data fetch ^N225 --cache-dir ./cache    # or set BACKTEST_CACHE_DIR
  backtest data fetch NVDA SPY --to prices         # also write each download into a parquet dataset

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
    _add_source_options(listing)
    listing.set_defaults(func=run_list)

    export = actions.add_parser(
        "export",
        help="write prices from any source as a partitioned parquet dataset",
        description="Write adjusted daily bars from a price source as a hive-partitioned parquet dataset "
        "(one partition per symbol), for --source parquet and for Dask workers.",
        epilog=EXPORT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument("symbols", nargs="*", metavar="SYMBOL",
                        help="symbols to export (default: every symbol the source holds)")
    _add_source_options(export)
    export.add_argument("--to", required=True, metavar="DIR", help="target directory or fsspec URL")
    export.set_defaults(func=run_export)

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
    fetch.add_argument("--to", metavar="DIR",
                       help="also write each download into this parquet dataset (directory or fsspec URL)")
    fetch.set_defaults(func=run_fetch)


def _add_source_options(parser: argparse.ArgumentParser) -> None:
    from backtest.sources import SOURCE_NAMES

    parser.add_argument("--source", default="snapshot", choices=SOURCE_NAMES,
                        help="price source (default: snapshot, the embedded data)")
    parser.add_argument("--csv-dir", "--dir", dest="directory", metavar="DIR",  # --dir: the first name
                        help="directory of SYMBOL.csv files for --source csv (alias: --dir)")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="download cache (--source yahoo; default $BACKTEST_CACHE_DIR or user cache)")
    parser.add_argument("--path", metavar="DIR", help="parquet dataset for --source parquet (dir or URL)")


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _console():
    from rich.console import Console

    # Wide enough for the table when stdout is a pipe or a file (rich assumes 80 columns then).
    return Console(file=sys.stdout, width=None if sys.stdout.isatty() else 120, markup=False, emoji=False)


def _source(args: argparse.Namespace):
    from backtest.inputs import open_source

    return open_source(args.source, csv_dir=args.directory, cache_dir=args.cache_dir, path=args.path)


def run_export(args: argparse.Namespace) -> int:
    """Write the source's symbols (or the given ones) as a parquet dataset at ``--to``."""
    from backtest.commands._options import check_symbols
    from backtest.sources.parquet import export_symbols, write_dataset

    source = _source(args)
    symbols = check_symbols("SYMBOL", args.symbols)
    if not symbols and source.name == "yahoo" and not source.symbols():
        raise ParameterError("--source yahoo: the download cache is empty; name the symbols to export")
    written: list[str] = []

    def counted():
        for symbol, bars in export_symbols(source, symbols):
            written.append(symbol)
            yield symbol, bars

    target = write_dataset(counted(), args.to)
    print(f"wrote {len(written)} symbol(s) from {args.source} to {target}", file=sys.stderr)
    return 0


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
    if args.to:
        from backtest.sources.parquet import write_partition
    errors: dict[str, BacktestError] = {}
    table = Table(title=f"cache: {source.cache.directory}")
    if args.to:
        table.caption = f"also written to the parquet dataset {args.to}"
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
                    if args.to:
                        write_partition(args.to, name, bars)
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
