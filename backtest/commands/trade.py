"""``backtest trade STRATEGY``: backtest a trading rule around each event, over a parameter grid."""

from __future__ import annotations

import argparse

from backtest.commands._options import add_execution_options, add_input_options, inputs_from_args, subparser
from backtest.formatting import format_number, format_percent

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
    parser.add_argument("--trades", action="store_true", help="also print the trade log")
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

    from backtest.trade import run_strategy

    inputs = inputs_from_args(args)
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
    )
    _print(result, show_trades=args.trades)
    return 0




def _console():
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=220)


def _print_list() -> None:
    from rich.table import Table

    import strategies

    table = Table(title="Strategies")
    for name in ("name", "direction", "rule", "parameters"):
        table.add_column(name)
    for name in strategies.available():
        s = strategies.get(name)
        table.add_row(
            name,
            s.direction + (" + hedge" if s.hedge else ""),
            s.summary,
            "\n".join(p.describe() for p in s.params) or "-",
        )
    _console().print(table)


def _print(result: object, show_trades: bool) -> None:
    from rich.table import Table

    console = _console()
    s = result.settings  # type: ignore[attr-defined]
    res = result.results  # type: ignore[attr-defined]
    title = (
        f"{s['strategy']}: per combo x symbol x event (fill {s['fill']}, fees {s['fees'] * 1e4:g} bp, "
        f"slippage {s['slippage'] * 1e4:g} bp, horizon +{s['horizon']})"
    )
    table = Table(
        title=title,
        caption="ann. = annualized on 252 sessions: over a window of a few sessions it is not meaningful.",
        caption_justify="left",
    )
    heads = [
        "combo",
        "event",
        "symbol",
        "return",
        "ann.",
        "Sharpe",
        "Sortino",
        "max DD",
        "win",
        "trades",
        "exposure",
        "avg trade",
        "B&H",
        "vs B&H",
        "bench",
        "vs bench",
        "sessions",
    ]
    for head in heads:
        table.add_column(head, justify="left" if head in ("combo", "event", "symbol") else "right")
    for row in res.itertuples(index=False):
        table.add_row(
            row.combo,
            row.event_id,
            row.symbol,
            format_percent(row.total_return, signed=True),
            format_percent(row.annualized_return, signed=True),
            format_number(row.sharpe),
            format_number(row.sortino),
            format_percent(row.max_drawdown, signed=True),
            format_percent(row.win_rate),
            str(row.n_trades),
            format_percent(row.exposure),
            format_percent(row.avg_trade, signed=True),
            format_percent(row.buy_hold_return, signed=True),
            format_percent(row.excess_vs_buy_hold, signed=True),
            format_percent(row.benchmark_return, signed=True),
            format_percent(row.excess_vs_benchmark, signed=True),
            str(row.sessions),
        )
    console.print(table)

    agg = result.aggregate.sort_values(  # type: ignore[attr-defined]
        "mean_return_traded", ascending=False, na_position="last", kind="stable"
    )
    summary = Table(
        title="Per combo across events x symbols (best mean return over traded pairs first)",
        caption="traded = pairs where the rule traded; 'traded' columns average those pairs only, "
        "'all' columns count an untraded pair with return 0 (its excess = minus buy & hold).",
        caption_justify="left",
    )
    for head in (
        "combo",
        "pairs",
        "traded",
        "mean (traded)",
        "mean (all)",
        "median (all)",
        "worst",
        "best",
        "> 0",
        "trades",
        "win",
        "avg trade",
        "vs B&H (traded)",
        "vs B&H (all)",
        "vs bench (all)",
    ):
        summary.add_column(head, justify="left" if head == "combo" else "right")
    for row in agg.itertuples(index=False):
        summary.add_row(
            row.combo,
            str(row.pairs),
            str(row.traded),
            format_percent(row.mean_return_traded, signed=True),
            format_percent(row.mean_return, signed=True),
            format_percent(row.median_return, signed=True),
            format_percent(row.worst_return, signed=True),
            format_percent(row.best_return, signed=True),
            format_percent(row.positive_share),
            str(row.trades),
            format_percent(row.win_rate),
            format_percent(row.avg_trade, signed=True),
            format_percent(row.mean_excess_vs_buy_hold_traded, signed=True),
            format_percent(row.mean_excess_vs_buy_hold, signed=True),
            format_percent(row.mean_excess_vs_benchmark, signed=True),
        )
    console.print(summary)
    if show_trades:
        log = Table(title="Trade log")
        for head in (
            "combo",
            "event",
            "symbol",
            "leg",
            "dir",
            "entry",
            "at",
            "price",
            "exit",
            "at",
            "price",
            "return",
            "status",
        ):
            log.add_column(head)
        for t in result.trades.itertuples(index=False):  # type: ignore[attr-defined]
            log.add_row(
                t.combo,
                t.event_id,
                t.symbol,
                t.leg,
                t.direction,
                f"{t.entry_date:%Y-%m-%d}",
                t.entry_at,
                f"{t.entry_price:.4g}",
                f"{t.exit_date:%Y-%m-%d}",
                t.exit_at,
                f"{t.exit_price:.4g}",
                format_percent(t[16], signed=True),
                t.status,
            )  # field 16 = "return"
        console.print(log)
