"""``backtest trade STRATEGY``: backtest a trading rule around each event, over a parameter grid."""

from __future__ import annotations

import argparse
import math

from backtest.commands._options import (
    add_budget_option,
    add_execution_options,
    add_input_options,
    add_out_option,
    add_scheduler_option,
    add_wide_option,
    inputs_from_args,
    scheduler_from_args,
    subparser,
    write_out,
)
from backtest.events import event_names

EPILOG = """\
examples:
  backtest trade buy_the_dip
      defaults (threshold 5 %, hold 5 sessions) on the shipped events and default targets
  backtest trade buy_the_dip --grid hold=1,5,10 threshold=0.03,0.05 stop=none,0.08
  backtest trade short_the_shock --symbols NVDA MU --fees 0.0005 --slippage 0.001
  backtest trade hedged_dip --events my_events.csv --fill close
  backtest trade --list

Decisions taken at a session's close fill at the next session's open (--fill close
to fill at that close). Fees and slippage are fractions per fill (0.001 = 10 bp).
Stops are checked on each session's open, high and low. Each event x symbol x
parameter set is its own column with its own cash: overlapping events never mix.
Returns are over the sessions after the reaction session (up to --horizon), annualized
on 252 sessions; "vs B&H" and "vs bench" compare with buying the symbol / its market
benchmark at the same first fill and holding to the same last session.
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparser(
        subparsers,
        "trade",
        help="backtest a trading rule (buy_the_dip, short_the_shock, ...) around each event",
        description="Event-driven strategy backtests on vectorbt: one result per parameter set x symbol x "
        "event, an aggregate per parameter set, and the trade log.",
        epilog=EPILOG,
    )
    parser.add_argument("strategy", nargs="?", metavar="STRATEGY", help="registered rule; --list shows them")
    parser.add_argument("--list", action="store_true", help="list the strategies and their parameters")
    parser.add_argument(
        "--grid",
        nargs="*",
        metavar="NAME=V1,V2",
        default=None,
        help="parameter values to combine, e.g. hold=1,5,10 stop=none,0.08",
    )
    add_input_options(parser)
    add_execution_options(parser)
    add_budget_option(parser)
    parser.add_argument("--trades", action="store_true", help="also print the trade log")
    add_wide_option(parser)
    add_out_option(parser)
    add_scheduler_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import strategies
    from backtest.errors import ParameterError
    from backtest.trade import parse_grid

    if args.list:
        _print_list()
        return 0
    if not args.strategy:
        raise ParameterError(
            "trade: name a STRATEGY, e.g. backtest trade buy_the_dip; "
            f"known: {', '.join(strategies.available())}"
        )
    strategy = strategies.get(args.strategy)
    if args.grid is not None and not args.grid:
        raise ParameterError(
            "--grid: empty grid; give NAME=V1,V2 pairs (e.g. --grid hold=1,5) or drop --grid"
        )
    grid = parse_grid(args.grid or [], strategy)

    from backtest.budget import budget_from, check_job
    from backtest.trade import run_strategy

    with scheduler_from_args(args) as mapper:
        inputs = inputs_from_args(args)
        check_job(
            pairs=len(inputs.alignment), budget=budget_from(args.max_memory), horizon=args.horizon,
            combos=math.prod(len(values) for values in grid.values()),
        )  # fmt: skip
        result = run_strategy(
            strategy,
            inputs.prices,
            inputs.alignment,
            inputs.calendars,
            grid=grid,
            fees=args.fees,
            slippage=args.slippage,
            fill=args.fill,
            horizon=args.horizon,
            scheduler=mapper,
        )
    _print(result, show_trades=args.trades, wide=args.wide, names=event_names(inputs.events))
    if args.out:
        write_out(args.out, _tables_to_write(result), result.settings)
    return 0




RESULT_COLUMNS = (
    "combo", "event_id", "symbol", "name", "total_return", "annualized_return", "sharpe", "sortino",
    "max_drawdown", "win_rate", "n_trades", "exposure", "avg_trade", "buy_hold_return", "excess_vs_buy_hold",
    "benchmark_return", "excess_vs_benchmark", "sessions",
)  # fmt: skip
RESULT_LABELS = {
    "event_id": "event", "total_return": "return", "annualized_return": "ann.", "max_drawdown": "max DD",
    "win_rate": "win", "n_trades": "trades", "avg_trade": "avg\ntrade", "buy_hold_return": "B&H",
    "excess_vs_buy_hold": "vs B&H", "benchmark_return": "bench", "excess_vs_benchmark": "vs\nbench",
    "combo": "parameters",
}  # fmt: skip
TRADE_COLUMNS = (
    "combo", "event_id", "symbol", "leg", "direction", "entry_date", "entry_at", "entry_price", "exit_date",
    "exit_at", "exit_price", "return", "status",
)  # fmt: skip


def _tables(result: object) -> list[object]:
    """The display tables of a trade result: per pair, per parameter set, and the trade log."""
    from backtest.report.tables import Table, company_names, generic_table, strategy_table

    s = result.settings  # type: ignore[attr-defined]
    results = result.results.assign(name=company_names(result.results["symbol"]))  # type: ignore[attr-defined]
    per_pair = generic_table("strategy_results", "", results, RESULT_COLUMNS)
    per_pair = Table(
        per_pair.name,
        f"{s['strategy']}: per parameter set x event x symbol (fill {s['fill']}, "
        f"fees {s['fees'] * 1e4:g} bp, slippage {s['slippage'] * 1e4:g} bp, horizon +{s['horizon']})",
        per_pair.frame, per_pair.kinds, labels=RESULT_LABELS, keys=("combo", "event_id", "symbol", "name"),
        note="ann. = annualized on 252 sessions: over a window of a few sessions it is not meaningful. "
        "B&H = buy and hold the symbol, bench = its market benchmark, over the same sessions.",
    )  # fmt: skip
    log = generic_table("trades", "Trade log", result.trades, TRADE_COLUMNS)  # type: ignore[attr-defined]
    log = Table(log.name, log.title, log.frame, log.kinds, keys=("combo", "event_id", "symbol", "leg"),
                labels={"combo": "parameters", "event_id": "event"})
    return [per_pair, strategy_table(result.aggregate, s["strategy"]), log]  # type: ignore[attr-defined]


def _tables_to_write(result: object) -> dict[str, object]:
    """The tidy tables ``--out`` writes (the names ``backtest run`` gives them)."""
    return {
        "strategy_results": result.results,  # type: ignore[attr-defined]
        "strategy_aggregate": result.aggregate,  # type: ignore[attr-defined]
        "trades": result.trades,  # type: ignore[attr-defined]
        "equity": result.equity,  # type: ignore[attr-defined]
    }


def _print_list() -> None:
    from rich.table import Table
    from rich.text import Text

    import strategies
    from backtest.report.terminal import make_console

    table = Table(title="Strategies")
    for name in ("name", "direction", "rule", "parameters"):
        table.add_column(name, no_wrap=name == "name")
    for name in strategies.available():
        s = strategies.get(name)
        table.add_row(
            name,
            s.direction + (" + hedge" if s.hedge else ""),
            Text(s.summary),
            Text("\n".join(p.describe() for p in s.params) or "-"),
        )
    make_console().print(table)


def _print(result: object, show_trades: bool, wide: bool, names: dict[str, str]) -> None:
    from backtest.report.terminal import make_console, print_table

    console = make_console(wide)
    per_pair, aggregate, log = _tables(result)
    print_table(console, per_pair, group="event_id", group_titles=names)
    print_table(console, aggregate, group=None)
    if show_trades:
        print_table(console, log, group="event_id", group_titles=names)
