"""``backtest run``: the main job — event study, recovery and a strategy backtest, with a report.

Thin on purpose: parses options into :class:`~backtest.pipeline.RunSettings`, calls
:func:`~backtest.pipeline.run_all`, prints the display tables with rich and writes
the files with :func:`backtest.report.write_report`.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from typing import TYPE_CHECKING, Any

from backtest.commands._options import (
    add_budget_option,
    add_execution_options,
    add_input_options,
    add_scheduler_option,
    add_study_options,
    add_wide_option,
    benchmark_overrides,
    check_symbols,
    subparser,
    trap_options,
)
from backtest.errors import ParameterError

if TYPE_CHECKING:
    from rich.console import Console

EPILOG = textwrap.dedent(
    """\
    Day 0 is each exchange's reaction session (first session closing after the
    announcement); abnormal returns are against each symbol's own market benchmark
    (SPY, ^KS11, ^N225). Output: every table as CSV and Markdown, results.json
    (all results and settings) and report.html (self-contained, opens offline).

    examples:
      backtest run                                   # ./events.csv (else packaged), 4 targets, snapshot
      backtest run --events my_events.csv --symbols NVDA MU 8035.T
      backtest run --strategy wait_for_rebound --grid hold=5,10,20 max_wait=3,5
      backtest run --grid threshold=0.05,0.1 hold=5,20 stop=none,0.08
      backtest run --source csv --csv-dir my_prices/ --out results/
      backtest run --model constant_mean --horizon 40 --quiet
      backtest run --model factor --factors SOXX --symbols NVDA MU
    """
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``run`` subcommand."""
    parser = subparser(
        subparsers,
        "run",
        help="run the event study, recovery and strategy backtest; write tables and an HTML report",
        description="Align events to each exchange's sessions, measure abnormal returns and their "
        "significance, recovery, and backtest a strategy over a parameter grid; print the tables "
        "and write CSV, Markdown, JSON and a self-contained HTML report.",
        epilog=EPILOG,
    )
    add_input_options(parser)
    add_study_options(parser)
    add_execution_options(parser)
    add_budget_option(parser)
    add_scheduler_option(parser)
    add = parser.add_argument
    add("--out", default="out", metavar="DIR", help="output directory (default: ./out)")
    add("--strategy", default="buy_the_dip", metavar="NAME", help="strategy (default: buy_the_dip)")
    add(
        "--grid", nargs="+", metavar="NAME=V1,V2",
        help="parameter grid, e.g. hold=5,10,20 stop=none,0.08 (default: a small grid for buy_the_dip)",
    )  # fmt: skip
    add("--quiet", action="store_true", help="no tables and no progress display (for scripts)")
    add_wide_option(parser)
    parser.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> Any:
    """Parse and check the options; returns :class:`~backtest.pipeline.RunSettings`."""
    import strategies
    from backtest.pipeline import RunSettings
    from backtest.trading.grid import parse_grid

    symbols = check_symbols("--symbols", args.symbols)
    factors = check_symbols("--factors", args.factors)
    from backtest.inputs import open_source
    from backtest.study.windows import parse_model

    # fails before any work
    open_source(args.source, csv_dir=args.csv_dir, cache_dir=args.cache_dir, path=args.path)
    try:
        parse_model(args.model)
    except ParameterError as exc:
        raise ParameterError(f"--{exc}") from None  # "--model 'capm' is unknown; ..."
    strategy = strategies.get(args.strategy)
    grid = None
    if args.grid:
        parsed = parse_grid(args.grid, strategy)
        grid = tuple((name, tuple(values)) for name, values in parsed.items())
    return RunSettings(
        events=args.events,
        event_ids=tuple(dict.fromkeys(args.event)) if args.event else None,
        symbols=tuple(symbols) if symbols else None,
        source=args.source,
        csv_dir=args.csv_dir,
        cache_dir=args.cache_dir,
        path=args.path,
        closures=args.closures,
        model=args.model,
        benchmarks=tuple(sorted(benchmark_overrides(args.benchmark).items())) or None,
        return_kind=args.returns,
        factors=tuple(factors) if factors else None,
        estimation_window=args.estimation_window,
        event_window=args.event_window,
        car_windows=args.car_windows,
        min_estimation=args.min_estimation,
        **trap_options(args),
        horizon=args.horizon,
        strategy=strategy.name,
        grid=grid,
        fees=args.fees,
        slippage=args.slippage,
        fill=args.fill,
    )


def print_tables(console: Console, run_result: Any, strategy: bool = True) -> None:
    """The terminal tables: raw returns and the scoreboard before the abnormal-return detail,
    the strategy's last (left out when ``strategy`` is False: :func:`print_strategy_table`)."""
    from backtest.report.tables import tests_table
    from backtest.report.terminal import print_table

    tables = run_result.study_display_tables
    scopes = dict.fromkeys(run_result.study.tests["scope"].astype(str))
    # "all", or "all shock" / "all relief" when the events are of both kinds (pooled apart)
    pooled = tests_table(run_result.study.tests, scopes=[s for s in scopes if s.startswith("all")])
    names = run_result.event_names()
    print_table(console, tables["alignment"], group_titles=names)
    # raw returns and the scoreboard (one block per symbol) before the abnormal-return detail
    print_table(console, tables["raw_returns"], group_titles=names)
    print_table(console, tables["scoreboard"], group="symbol", group_columns=("name",))
    for table, title in (
        (tables["reactions"], None),
        (pooled, "Significance tests, all events pooled (shocks and reliefs apart)"),
        (tables["recovery"], None),
    ):
        print_table(console, table, title=title, group_titles=names)
    if strategy:
        print_strategy_table(console, run_result)


def print_strategy_table(console: Console, run_result: Any) -> None:
    """The last of :func:`print_tables`: the strategy's table."""
    from backtest.report.terminal import print_table

    print_table(console, run_result.display_tables["strategy"], group_titles=run_result.event_names())


def run(args: argparse.Namespace) -> int:
    """Handler of ``backtest run``.

    ``args.out`` is the output set the CLI opened (checked and locked) before any work;
    the files are swapped in when this returns.
    """
    from backtest.budget import budget_from
    from backtest.commands._options import scheduler_from_args
    from backtest.pipeline import run_all
    from backtest.report import REPORT_FILE, ReportWriter
    from backtest.report.terminal import make_console

    settings = settings_from_args(args)
    budget = budget_from(args.max_memory)
    err = make_console(stderr=True)
    console = make_console(args.wide)
    watched = not args.quiet and err.is_terminal  # progress only for a human watching a terminal
    writer = ReportWriter(args.out)
    drawn: list[str] = []  # the terminal's tables but the strategy's, as drawn meanwhile

    def meanwhile(result: Any) -> None:
        # while a second process runs the strategy step: the files and the terminal's tables
        # that need no strategy result (drawn now, printed after the warnings as before)
        writer.start(result)
        if not args.quiet:
            with console.capture() as capture:
                print_tables(console, result, strategy=False)
            drawn.append(capture.get())

    with scheduler_from_args(args, progress=False) as mapper:  # one bar: the steps'
        if not watched:
            result = run_all(settings, max_memory=budget, scheduler=mapper, meanwhile=meanwhile)
            written = writer.finish(result)
        else:
            result, written = _run_with_progress(settings, writer, err, budget, mapper, meanwhile)
    _warn(result.warnings)
    if args.quiet:
        return 0
    console.file.write(drawn[0])
    print_strategy_table(console, result)
    console.print(
        f"Wrote {len(written)} files to {args.out}/ — open {args.out}/{REPORT_FILE} in a browser "
        "(results.json holds every table and setting)."
    )
    sys.stdout.flush()
    return 0


def _run_with_progress(settings: Any, writer: Any, err: Console, budget: int, mapper: Any,
                       meanwhile: Any) -> tuple[Any, list[Any]]:
    """Run and write the report under a transient rich progress bar on stderr."""
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from backtest.pipeline import STEPS, run_all

    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("starting", total=len(STEPS) + 1)

        def step(name: str) -> None:
            progress.update(task, description=name, completed=STEPS.index(name))

        result = run_all(settings, progress=step, max_memory=budget, scheduler=mapper, meanwhile=meanwhile)
        progress.update(task, description="report (tables, charts, HTML)", completed=len(STEPS))
        written = writer.finish(result)
    return result, written


def _warn(messages: list[str]) -> None:
    """Print collected warnings the way the CLI prints every BacktestWarning."""
    for message in messages:
        _name, _, text = message.partition(": ")
        print(f"warning: {text or message}", file=sys.stderr)
