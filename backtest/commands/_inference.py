"""``backtest study`` inference options: placebo, bootstrap, calendar-time, GARCH (thin)."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path


def draws(text: str) -> int:
    """argparse type: a whole number of bootstrap draws, 0 for none."""
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number of draws (0 = none), e.g. 999")
    return int(text)


def add_inference_options(parser: argparse.ArgumentParser) -> None:
    """Add the inference options of ``backtest study``."""
    g = parser.add_argument_group("inference beyond the cross-sectional tests")
    g.add_argument("--placebo", action="store_true",
                   help="rank each statistic among the instruments' own non-event dates (placebo p-values)")
    g.add_argument("--bootstrap", type=draws, default=0, metavar="B",
                   help="stationary-bootstrap draws of dates for CAR/CAAR intervals, e.g. 999 "
                        "(default: none)")
    g.add_argument("--calendar-time", action="store_true",
                   help="equal-weighted portfolio test of each event (exact under cross-correlation)")
    g.add_argument("--garch", action="store_true",
                   help="GARCH(1,1) market model per pair (arch): standardized abnormal returns")
    g.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    g.add_argument("--inference-dir", metavar="DIR",
                   help="write placebo, placebo_draws, bootstrap, calendar_time and garch CSVs here")


def run_inference(args: argparse.Namespace, result, inputs):
    """Run and print the requested inference; None when none was asked for."""
    if not (args.placebo or args.bootstrap or args.calendar_time or args.garch):
        return None
    from rich.console import Console

    from backtest.study.inference import infer

    res = infer(result, inputs.prices, inputs.alignment, inputs.calendars, placebo=args.placebo,
                other_events=inputs.all_alignment,
                bootstrap=args.bootstrap, calendar_time=args.calendar_time, garch=args.garch,
                seed=args.seed)
    console = Console(width=None if "COLUMNS" in os.environ else 100, highlight=False)
    console.print(res.summary(), markup=False)
    if args.inference_dir:
        write_tables(res, Path(args.inference_dir))
    return res


def write_tables(res, target: Path) -> None:
    """Every table of ``res`` as CSV into ``target``, landing as one set (temporary dir, swap)."""
    target = target.resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    for name in ("placebo", "placebo_draws", "bootstrap", "calendar_time", "garch"):
        getattr(res, name).to_csv(tmp / f"{name}.csv", index=False)
    old = target.with_name(f".{target.name}.old")
    if target.exists():
        target.rename(old)
    tmp.rename(target)
    shutil.rmtree(old, ignore_errors=True)
