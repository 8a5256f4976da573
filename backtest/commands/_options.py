"""Options shared by the commands, parsed the same way everywhere.

``add_input_options`` gives every command that reads events and prices the same
``--events --event --symbols --source --csv-dir --cache-dir --closures``;
``inputs_from_args`` turns them into :class:`backtest.inputs.Inputs`.
Window options accept ``A:B`` or ``A,B`` (``-250:-11``, ``-250,-11``).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

from backtest.errors import BacktestError, UnknownSymbolError
from backtest.sources import SOURCE_NAMES

if TYPE_CHECKING:
    from backtest.inputs import Inputs
    from backtest.scheduler import Mapper

# Lets values such as "-250:-11" or "-5,20" through as option values, not as options.
NEGATIVE_VALUE = re.compile(r"^-\d+([:,][-+]?\d+)*$|^-\d*\.\d+$")


def subparser(subparsers: argparse._SubParsersAction, name: str, **kwargs: object) -> argparse.ArgumentParser:
    """``subparsers.add_parser`` with the house defaults (raw epilog, negative window values)."""
    parser = subparsers.add_parser(name, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    parser._negative_number_matcher = NEGATIVE_VALUE  # argparse has no public hook for this
    return parser


def add_input_options(parser: argparse.ArgumentParser, *, events_option: bool = True) -> None:
    """Add the events/prices/calendar options every analysis command takes."""
    if events_option:
        parser.add_argument("--events", metavar="FILE",
                            help="events CSV (default: ./events.csv, else the packaged copy)")
    parser.add_argument("--event", metavar="ID", action="append",
                        help="only this event_id (repeatable)")
    parser.add_argument("--symbols", nargs="+", metavar="SYMBOL",
                        help="symbols for every event (default: each event's own, else NVDA 000660.KS "
                        "005930.KS 285A.T)")
    parser.add_argument("--source", default="snapshot", choices=SOURCE_NAMES,
                        help="price source (default: snapshot, the embedded data)")
    parser.add_argument("--csv-dir", metavar="DIR", help="directory of SYMBOL.csv files for --source csv")
    parser.add_argument("--cache-dir", metavar="DIR",
                        help="cache for --source yahoo (default: $BACKTEST_CACHE_DIR or the user cache)")
    parser.add_argument("--path", metavar="DIR",
                        help="partitioned parquet dataset for --source parquet (a directory or fsspec URL)")
    parser.add_argument("--closures", metavar="FILE",
                        help="closures overrides CSV, applied on top of the packaged one")
    add_instruments_option(parser)


def add_instruments_option(parser: argparse.ArgumentParser) -> None:
    """``--instruments FILE``: the user's registry CSV, whose names show beside tickers."""
    parser.add_argument("--instruments", metavar="FILE",
                        help="your registry CSV (symbol,name,...): company names shown beside the tickers")


def add_scheduler_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--scheduler`` (where the units of work run)."""
    parser.add_argument("--scheduler", default="inline", metavar="WHERE",
                        help="where the work runs: inline (default, this process), local:N (a Dask cluster "
                        "of N worker processes) or tcp://HOST:PORT (a running Dask scheduler); needs the "
                        "dask extra")


@contextmanager
def scheduler_from_args(args: argparse.Namespace, progress: bool = True) -> Iterator[Mapper]:
    """Open ``--scheduler`` for a command; the cluster's dashboard address goes to stderr."""
    from backtest.scheduler import open_scheduler

    announce = lambda line: print(line, file=sys.stderr)  # noqa: E731
    with open_scheduler(args.scheduler, announce=announce, progress=progress) as mapper:
        yield mapper


def check_symbols(option: str, symbols: Sequence[str] | None) -> list[str] | None:
    """Resolve every symbol now, so a bad one names the option it came from (any case: nvda = NVDA)."""
    from backtest.instruments import get_instrument, normalize_symbol

    if not symbols:
        return None
    # "NVDA,MU" too
    symbols = [normalize_symbol(part) for item in symbols for part in item.replace(",", " ").split()]
    for symbol in symbols:
        try:
            get_instrument(symbol)
        except BacktestError as exc:
            raise UnknownSymbolError(f"{option}: {exc}") from None
    return list(dict.fromkeys(symbols))


def inputs_from_args(
    args: argparse.Namespace,
    *,
    events: str | None = None,
    benchmarks: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
) -> Inputs:
    """Load :class:`backtest.inputs.Inputs` from the options of :func:`add_input_options`."""
    from backtest.inputs import load_inputs

    return load_inputs(
        events if events is not None else args.events,
        check_symbols("--symbols", args.symbols),
        source=args.source,
        csv_dir=args.csv_dir,
        cache_dir=args.cache_dir,
        path=args.path,
        closures=args.closures,
        event_ids=args.event,
        benchmarks=benchmarks,
        extra=tuple(check_symbols("--factors", extra) or ()),
    )


#: No window can reach further: the calendars (2000-2035) hold about 9,100 sessions.
MAX_SESSIONS = 10_000


def window(text: str) -> tuple[int, int]:
    """argparse type: ``A:B`` or ``A,B`` -> (A, B) with A <= B (sessions relative to day 0).

    >>> window("-250:-11"), window("-5,20")
    ((-250, -11), (-5, 20))
    """
    parts = re.split(r"[:,]", text.strip())
    try:
        first, last = (int(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: not a whole number of sessions on each side; use FIRST:LAST, e.g. -250:-11"
        ) from None
    if first > last:
        raise argparse.ArgumentTypeError(
            f"{text!r} runs backwards: FIRST must be <= LAST; did you mean {last}:{first}?"
        )
    if max(abs(first), abs(last)) > MAX_SESSIONS:
        raise argparse.ArgumentTypeError(
            f"{text!r} reaches {max(abs(first), abs(last)):,} sessions from day 0; the calendars "
            f"(2000-2035) hold about 9,100 sessions, so use ends within +-{MAX_SESSIONS:,}"
        )
    return first, last


def windows(text: str) -> tuple[tuple[int, int], ...]:
    """argparse type: ``A:B,C:D`` (or ``A:B C:D``) -> ((A, B), (C, D)).

    >>> windows("0:0,0:5,-1:1")
    ((0, 0), (0, 5), (-1, 1))
    """
    items = [item for item in re.split(r"[\s,]+", text.strip()) if item]
    if not items or any(":" not in item for item in items):
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of windows A:B, e.g. 0:0,0:5,-1:1")
    return tuple(window(item) for item in items)


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1 (sessions)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of sessions; use e.g. 60") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1 session; use e.g. 60")
    return value


def at_least(minimum: int):
    """argparse type factory: a whole number >= ``minimum``."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is below the minimum {minimum}; use e.g. 60")
        return value

    parse.__name__ = f"whole number >= {minimum}"
    return parse


def fraction(text: str) -> float:
    """argparse type: a cost per fill as a fraction in [0, 0.1) (fees, slippage: 0.001 = 10 bp)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; use a fraction, e.g. 0.001") from None
    if not 0.0 <= value < 0.1:
        raise argparse.ArgumentTypeError(f"{value:g} is outside [0, 0.1); use a fraction, e.g. 0.001 = 10 bp")
    return value


def add_wide_option(parser: argparse.ArgumentParser) -> None:
    """``--wide``: one row per line, whatever the terminal's width (default: fold to fit it)."""
    parser.add_argument("--wide", action="store_true",
                        help="one row per line even when wider than the terminal (default: tables too "
                        "wide fold into blocks per event / parts that fit; a pipe gets one row per line)")


def add_out_option(parser: argparse.ArgumentParser) -> None:
    """``--out DIR``: write the command's tables as ``backtest run`` does (CSV, Parquet, results.json)."""
    parser.add_argument("--out", metavar="DIR",
                        help="also write every table to DIR as CSV and Parquet, with results.json "
                        "(all tables and the settings), as backtest run does")


def write_out(out: str, tables: Mapping[str, object], settings: Mapping[str, object]) -> None:
    """Write ``tables`` into ``out`` through the one output writer; say where on stderr."""
    import sys

    from backtest.report.export import table_files, write_files

    written = write_files(out, table_files(tables, settings))  # type: ignore[arg-type]
    print(f"Wrote {len(written)} files to {out}/ (results.json holds every table and the settings).",
          file=sys.stderr)


def add_execution_options(parser: argparse.ArgumentParser) -> None:
    """Add the order-execution options shared by ``trade`` and ``run``."""
    parser.add_argument("--fees", type=fraction, default=0.001, metavar="F",
                        help="fees per fill as a fraction of the traded value (default 0.001 = 10 bp)")
    parser.add_argument("--slippage", type=fraction, default=0.0005, metavar="F",
                        help="price slippage per fill (default 0.0005 = 5 bp)")
    parser.add_argument("--fill", choices=("next_open", "close"), default="next_open",
                        help="when a decision taken at a close fills (default next_open)")
    parser.add_argument("--horizon", type=positive_int, default=60, metavar="N",
                        help="sessions after the reaction session to follow (default 60)")


def add_budget_option(parser: argparse.ArgumentParser) -> None:
    """Add ``--max-memory`` (the size budget of :mod:`backtest.budget`)."""
    parser.add_argument("--max-memory", metavar="SIZE",
                        help="refuse jobs estimated above this much memory (default 4G, or "
                        "$BACKTEST_MAX_MEMORY); e.g. 16G")


def add_study_options(parser: argparse.ArgumentParser) -> None:
    """Add the event-study options shared by ``study`` and ``run``."""
    from backtest.study import DEFAULT_CAR_WINDOWS
    from backtest.study.models import MODELS

    parser.add_argument("--model", default="market",
                        help=f"normal-return model: {', '.join(MODELS)} (default: market)")
    parser.add_argument("--estimation-window", "--estimation", type=window, default=(-250, -11),
                        metavar="A:B", help="estimation window in sessions around day 0 (default -250:-11)")
    parser.add_argument("--event-window", "--window", type=window, default=(-5, 20), metavar="A:B",
                        help="event window in sessions (default -5:20)")
    parser.add_argument("--car-windows", "--car", type=windows, default=DEFAULT_CAR_WINDOWS,
                        metavar="A:B,...", help="CAR windows (default 0:0,0:1,-1:1,0:5,0:20)")
    parser.add_argument("--min-estimation", type=at_least(3), default=60, metavar="N",
                        help="fewer estimation returns -> market-adjusted model, with a warning (default 60)")
    parser.add_argument("--factors", nargs="+", metavar="SYMBOL",
                        help="--model factor: regressors after each symbol's benchmark, e.g. SOXX")
    parser.add_argument("--benchmark", action="append", metavar="SYM=BENCH",
                        help="override a symbol's market benchmark, e.g. NVDA=QQQ (repeatable)")
    parser.add_argument("--returns", choices=("simple", "log"), default="simple",
                        help="return kind (default: simple)")
    parser.add_argument("--exclude-events", type=window, default=(-5, 5), metavar="A:B",
                        help="sessions around the symbol's other events left out of the estimation "
                             "window (default -5:5)")
    parser.add_argument("--keep-event-days", action="store_true",
                        help="keep the other events' days in the estimation window")
    parser.add_argument("--factor-alignment", choices=("close", "open", "date"), default="close",
                        help="a benchmark/factor from another exchange enters with its last close before "
                             "the session's close (default), before its open, or by date")
    parser.add_argument("--dimson", type=int, choices=range(0, 6), default=0, metavar="K",
                        help="Dimson (1979) betas on K market lags and leads (default 0: none)")


def trap_options(args: argparse.Namespace) -> dict:
    """The trap-guard keyword arguments of ``event_study`` from :func:`add_study_options`' options."""
    return {"exclude_events": None if args.keep_event_days else tuple(args.exclude_events),
            "factor_alignment": args.factor_alignment, "dimson": args.dimson}


def benchmark_overrides(items: Sequence[str] | None) -> dict[str, str]:
    """``["NVDA=QQQ"]`` -> ``{"NVDA": "QQQ"}``; both symbols must resolve.

    >>> benchmark_overrides(["NVDA=QQQ"])
    {'NVDA': 'QQQ'}
    """
    from backtest.errors import ParameterError

    out: dict[str, str] = {}
    for item in items or []:
        symbol, sep, bench = (part.strip() for part in item.partition("="))
        if not sep or not symbol or not bench:
            raise ParameterError(f"--benchmark {item!r}: write SYMBOL=BENCHMARK, e.g. NVDA=QQQ")
        [symbol], [bench] = check_symbols("--benchmark", [symbol]), check_symbols("--benchmark", [bench])
        if symbol.casefold() == bench.casefold():
            raise ParameterError(
                f"--benchmark {item!r}: a symbol cannot be its own benchmark (every abnormal return "
                "would be 0); name a market index or ETF, e.g. NVDA=QQQ"
            )
        if symbol in out and out[symbol] != bench:
            raise ParameterError(
                f"--benchmark {item!r}: {symbol} already has benchmark {out[symbol]}; give one per symbol"
            )
        out[symbol] = bench
    return out
