"""Benchmark: seconds per event x symbol pair of ``recovery``, this checkout against a git baseline.

Run (the synthetic universe of ``benchmarks/universe.py`` in DIR)::

    python benchmarks/universe.py DIR --symbols 200 --years 10 --events 200
    python benchmarks/bench_recovery.py DIR --pairs 2000 20000 --baseline a825897 --repeats 3

The baseline's ``backtest/recovery/{analysis,paths}.py`` are read with ``git show REF:...``
and loaded as separate modules (the rest of the package is this checkout's), so both
versions run in one process on the same inputs: per size, the runs alternate A B A B and
the medians and the ratio baseline / current are printed, with the machine's load average.
``--memory`` adds one untimed pass per version and size under ``tracemalloc`` (peak bytes
allocated during the call). ``--study`` follows an event study's ARs (one study on the largest
size, computed before any clock starts). Prints one JSON document.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import universe

from backtest.inputs import load_inputs
from backtest.recovery import recovery


def _baseline(ref: str):
    """``recovery`` of git ``ref`` (its analysis.py using its own paths.py)."""
    root = Path(__file__).resolve().parent.parent
    modules = {}
    with tempfile.TemporaryDirectory(prefix="bench_recovery_") as tmp:
        for name in ("paths", "analysis"):
            source = subprocess.run(["git", "-C", str(root), "show", f"{ref}:backtest/recovery/{name}.py"],
                                    check=True, capture_output=True, text=True).stdout
            file = Path(tmp) / f"{name}.py"
            file.write_text(source)
            spec = importlib.util.spec_from_file_location(f"baseline_recovery_{name}", file)
            modules[name] = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(modules[name])
    modules["analysis"].path_metrics = modules["paths"].path_metrics
    modules["analysis"].check_horizon = modules["paths"].check_horizon
    return modules["analysis"].recovery


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--pairs", type=int, nargs="+", default=[2000])
    parser.add_argument("--baseline", default=None, help="git ref to compare against (default: none)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--horizon", type=int, default=20)
    parser.add_argument("--study", action="store_true")
    parser.add_argument("--memory", action="store_true")
    args = parser.parse_args(argv)

    warnings.simplefilter("ignore")
    symbols = universe.stock_symbols(args.dir / "prices")
    inputs = load_inputs(args.dir / "events.csv", symbols, source="parquet", path=args.dir / "prices")
    study = None
    if args.study:
        from backtest.study import event_study

        study = event_study(inputs.prices, inputs.alignment.iloc[: max(args.pairs)], inputs.calendars)
    versions = {"current": recovery}
    if args.baseline:
        versions = {"baseline": _baseline(args.baseline), **versions}

    def run(fn, n: int) -> float:
        start = time.perf_counter()
        fn(inputs.prices, inputs.alignment.iloc[:n], inputs.calendars, horizon=args.horizon, study=study)
        return time.perf_counter() - start

    for fn in versions.values():  # warm-up: every symbol's bars read once, imports done
        run(fn, min(args.pairs))
    report: dict[str, object] = {"load_before": os.getloadavg(), "horizon": args.horizon, "study": args.study}
    for n in args.pairs:
        times: dict[str, list[float]] = {name: [] for name in versions}
        for _ in range(args.repeats):
            for name, fn in versions.items():
                times[name].append(run(fn, n))
        row: dict[str, object] = {name: {"median_s": statistics.median(t), "ms_per_pair":
                                         1e3 * statistics.median(t) / n} for name, t in times.items()}
        if args.baseline:
            row["ratio_baseline_over_current"] = statistics.median(
                b / c for b, c in zip(times["baseline"], times["current"], strict=True))
        if args.memory:
            for name, fn in versions.items():
                tracemalloc.start()
                run(fn, n)
                row[name]["peak_traced_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
                tracemalloc.stop()
        report[str(n)] = row
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
