"""``backtest tables``: rebuild the return tables (CSV, Excel, LaTeX) from a results.json.

Thin on purpose: reads the results with :func:`backtest.report.load_results`, builds
:class:`~backtest.return_tables.ReturnTables` with the options, writes the files and
prints the raw-return table and the scoreboard. Nothing is recomputed: the windows
are cut from the closes ``backtest run`` stored, the abnormal returns are the study's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from backtest.commands._options import add_wide_option, subparser, windows
from backtest.errors import ParameterError

#: Where the tables go without --out: a folder beside the results file (not the run's folder itself).
DEFAULT_DIR = "tables"

EPILOG = """\
examples:
  backtest tables                      # out/results.json -> out/tables/: return_tables.xlsx, .tex, CSVs
  backtest tables out/results.json --windows 0:0,0:1,0:5,0:20,0:60
  backtest tables --stat se --stars 0.01,0.05 --out paper/
  backtest tables --test bmp_kp                    # the per-event mean row's test

Raw return over [a,b] = close of day b / close of day a-1 - 1 (sessions of the stock's
exchange), with the benchmark's over the same sessions and the excess (stock minus
benchmark). Abnormal returns are the study's CARs; a window the study did not compute
gets raw returns only (rerun 'backtest run --car-windows ...' for its CAR).
"""


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``tables`` subcommand."""
    parser = subparser(
        subparsers,
        "tables",
        help="return tables (raw, excess, abnormal, scoreboard) as Excel and LaTeX from a results.json",
        description="Rebuild the return tables from the results.json of 'backtest run', without "
        "recomputing: raw and excess returns per window, abnormal returns with t statistics or "
        "standard errors, cross-event pivots and the shock scoreboard; write CSV, Excel and LaTeX.",
        epilog=EPILOG,
    )
    add = parser.add_argument
    add("results", nargs="?", default="out/results.json", help="results file (default: out/results.json)")
    add("--windows", type=windows, metavar="A:B,...",
        help="windows in sessions relative to day 0 (default: the run's CAR windows and 0:horizon)")
    add("--stat", default="t", choices=("t", "se"),
        help="in parentheses beneath each abnormal return: t statistic (default) or standard error")
    add("--stars", default="0.01,0.05,0.1", metavar="P1,P2,...",
        help="significance levels of ***, **, * (default: 0.01,0.05,0.1)")
    add("--test", default="cross_sectional_t", metavar="NAME",
        help="cross-sectional test of each event's mean row (default: cross_sectional_t)")
    add("--out", metavar="DIR",
        help="output directory, replaced as one set (default: tables/ beside the results file)")
    add("--quiet", action="store_true", help="write the files, print nothing")
    add_wide_option(parser)
    parser.set_defaults(func=run)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Handler of ``backtest tables``."""
    from backtest.report import load_results
    from backtest.report.export import write_files
    from backtest.report.output import open_output
    from backtest.report.terminal import make_console, print_table
    from backtest.return_tables import build_return_tables
    from backtest.return_tables.display import raw_table, scoreboard_table
    from backtest.return_tables.export import return_table_files
    from backtest.return_tables.result import parse_stars

    levels = parse_stars(args.stars)
    run_folder = Path(args.results).parent
    # The writer replaces its target as one set, so never the run's own folder: its files stay.
    if args.out is None:  # an explicit --out arrives opened (checked and locked) by the CLI
        with open_output(run_folder / DEFAULT_DIR, "--out") as args.out:
            return run(args)
    if Path(str(args.out)).resolve() == run_folder.resolve():
        raise ParameterError(
            f"--out {args.out} holds {Path(args.results).name}: writing there would replace the run's "
            f"files; use another folder (default {run_folder / DEFAULT_DIR})"
        )
    results = load_results(args.results)
    tables = build_return_tables(
        results.tables, results.settings, windows=args.windows, statistic=args.stat, stars=levels,
        test=args.test,
    )  # fmt: skip
    out = args.out
    written = write_files(out, return_table_files(tables))
    if args.quiet:
        return 0
    console = make_console(args.wide)
    print_table(console, raw_table(tables), group_titles=tables.names)
    print_table(console, scoreboard_table(tables), group="symbol", group_columns=("name",))
    folder = written[0].parent if written else out
    console.print(f"Wrote {len(written)} files to {folder}/: {', '.join(p.name for p in written)}")
    sys.stdout.flush()
    return 0

