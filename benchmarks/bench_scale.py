"""Benchmark: the study, recovery and a large strategy grid on inline, local:1 and local:2.

Run (writes the synthetic universe of ``benchmarks/universe.py`` first if DIR has none)::

    python benchmarks/bench_scale.py DIR --symbols 2000 --years 10 --events 200 \\
        --grid-units 1000 --grid-combos 100000

Three jobs, each timed on every scheduler, the schedulers interleaved (A B C A B C ...) so
that a machine shared with other work slows them alike; medians over ``--repeats``:

1. **study**: ``event_study`` (market model, every test) on every event x stock pair of the
   universe (``symbols x events`` pairs; ``--events-limit K`` keeps the first K events), with
   prices from the Parquet dataset: on a cluster each block of pairs reads its own symbols;
2. **recovery**: ``recovery`` on the same pairs, following the study's abnormal returns (the
   study is run once, inline, untimed, before the first recovery run);
3. **grid**: ``buy_the_dip`` over a ``--grid-combos`` grid on the first ``--grid-units``
   event x stock pairs, mapped as grid slices (``backtest.trading.slices.grid_sums``): each
   slice returns per-combination sums, so what comes back is ``O(combinations)`` whatever
   the number of units.

Per scheduler: wall time (the cluster is started and its workers have imported the
package before the clock starts), split into the seconds inside ``Mapper.map`` (the units
running) and the rest, the client's serial share (preparing the units, building the result
from their outputs); peak resident
memory of each worker process (``ru_maxrss``; inline: of this process), the client's peak
(this process; ``--schedulers local:1,local:2`` leaves the inline run out of it), and the scaling
efficiency ``T(local:1) / (2 T(local:2))``. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import universe

SCHEDULERS = ("inline", "local:1", "local:2")


def _peak_mb() -> float:
    """Peak resident memory of this process in MB: ``VmHWM`` of this process's own address space.

    Not ``ru_maxrss``: Linux keeps it across ``fork`` and ``exec``, so a worker process started
    from a large client would report the client's peak as its own.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # other systems


def _warm() -> None:
    """Import what the units use, so that a worker's first unit is not timed with the imports."""
    import backtest.recovery
    import backtest.study
    import backtest.trade  # noqa: F401  (vectorbt and numba's cached kernels with it)


def grid(n_combos: int) -> dict[str, list]:
    """About ``n_combos`` buy_the_dip combinations: hold x threshold x stop."""
    holds = list(range(1, 51))
    n_thr = max(1, round(np.sqrt(n_combos / len(holds))))
    n_stop = max(1, n_combos // (len(holds) * n_thr))
    return {"hold": holds,
            "threshold": [round(float(x), 4) for x in np.linspace(0.005, 0.2, n_thr)],
            "stop": [None] + [round(float(x), 4) for x in np.linspace(0.01, 0.3, n_stop - 1)]}


def run_once(kind: str, mapper, inputs, units, combos, strategy, study=None) -> dict:
    from backtest.recovery import recovery
    from backtest.study import event_study
    from backtest.trading.slices import grid_sums

    mapped = _time_maps(mapper)
    start = time.perf_counter()
    # on a cluster the study's and recovery's blocks read their symbols from the dataset
    prices = inputs.unit_prices(mapper.client is not None)
    if kind == "study":
        study = event_study(prices, inputs.alignment, inputs.calendars, scheduler=mapper)
        size = len(study.car) // len(study.settings["car_windows"])
    elif kind == "recovery":
        result = recovery(prices, inputs.alignment, inputs.calendars, horizon=20, study=study,
                          scheduler=mapper)
        size = int((result.table["path"] == "price").sum())
    else:
        total = grid_sums(strategy, units, combos, fees=0.001, slippage=0.0005, fill="next_open",
                          scheduler=mapper)
        size = int(total["pairs"].sum())
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "size": size, "map_seconds": sum(mapped),
            "client_seconds": seconds - sum(mapped)}


def _time_maps(mapper) -> list[float]:
    """Wrap ``mapper.map`` so that the seconds of each call land in the returned list.

    What is left of a run's wall time is the client's serial share: preparing the units
    before the map and building the result from their outputs after it.
    """
    seconds: list[float] = []
    inner = mapper.map

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            seconds.append(time.perf_counter() - start)

    mapper.map = timed
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target")
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--grid-units", type=int, default=1000)
    parser.add_argument("--grid-combos", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--jobs", default="study,recovery,grid")
    parser.add_argument("--events-limit", type=int, default=None,
                        help="keep the first K events of DIR/events.csv (pairs = symbols x K)")
    parser.add_argument("--schedulers", default=",".join(SCHEDULERS),
                        help="e.g. local:1,local:2 to measure the client's peak without an inline run")
    args = parser.parse_args(argv)

    import strategies
    from backtest.errors import BacktestWarning
    from backtest.inputs import load_inputs
    from backtest.scheduler import open_scheduler
    from backtest.trading.grid import expand_grid
    from backtest.trading.windows import build_units

    warnings.simplefilter("ignore", BacktestWarning)  # short histories of late listings, by design
    target = Path(args.target)
    if not (target / "events.csv").is_file():
        universe.write(target, args.symbols, args.years, args.events)
    symbols = universe.stock_symbols(target / "prices")
    start = time.perf_counter()
    inputs = load_inputs(target / "events.csv", symbols, source="parquet", path=target / "prices")
    if args.events_limit:
        first = list(dict.fromkeys(inputs.alignment["event_id"]))[: args.events_limit]
        inputs = replace(inputs, alignment=inputs.alignment[inputs.alignment["event_id"].isin(first)]
                         .reset_index(drop=True))
    load_s = time.perf_counter() - start
    strategy = strategies.get("buy_the_dip")
    combos = expand_grid(strategy, grid(args.grid_combos))
    # the first --grid-units pairs that have a window (late listings have none): cut from a few more
    units = build_units(inputs.prices, inputs.alignment.iloc[: 2 * args.grid_units], inputs.calendars,
                        horizon=20, lookback=strategy.lookback, hedge=False)[: args.grid_units]
    report: dict = {"pairs": len(inputs.alignment), "load_seconds": load_s, "grid_units": len(units),
                    "grid_combinations": len(combos), "client_peak_mb_after_load": _peak_mb(), "jobs": {}}
    study = None
    for job in args.jobs.split(","):
        if job == "recovery" and study is None:
            from backtest.study import event_study

            study = event_study(inputs.prices, inputs.alignment, inputs.calendars)
        runs: dict[str, list] = {s: [] for s in args.schedulers.split(",")}
        for _ in range(args.repeats):
            for name in runs:  # interleaved
                with open_scheduler(name, progress=False) as mapper:
                    if mapper.client is not None:
                        mapper.client.run(_warm)
                    out = run_once(job, mapper, inputs, units, combos, strategy, study)
                    if mapper.client is None:
                        out["peak_mb_per_worker"] = [_peak_mb()]
                    else:
                        peaks = mapper.client.run(_peak_mb)
                        out["peak_mb_per_worker"] = sorted(peaks.values())
                runs[name].append(out)
        summary = {name: {"median_seconds": statistics.median(r["seconds"] for r in rs),
                          "runs_seconds": [round(r["seconds"], 2) for r in rs],
                          "peak_mb_per_worker": max(max(r["peak_mb_per_worker"]) for r in rs),
                          "median_client_seconds": statistics.median(r["client_seconds"] for r in rs),
                          "median_map_seconds": statistics.median(r["map_seconds"] for r in rs),
                          "size": rs[0]["size"]} for name, rs in runs.items()}
        if "local:1" in summary and "local:2" in summary:
            one, two = summary["local:1"]["median_seconds"], summary["local:2"]["median_seconds"]
            summary["efficiency_1_to_2_workers"] = one / (2 * two)
            # each repeat's local:1 / (2 x local:2), the two run one after the other: a machine
            # that slows down for a while moves both runs of a pair, not one side of the ratio
            pairs = [a["seconds"] / (2 * b["seconds"])
                     for a, b in zip(runs["local:1"], runs["local:2"], strict=True)]
            summary["efficiency_of_each_repeat"] = [round(e, 3) for e in pairs]
            summary["efficiency_median_of_repeats"] = statistics.median(pairs)
        report["jobs"][job] = summary
        print(json.dumps({job: summary}, indent=1), file=sys.stderr)
    report["client_peak_mb"] = _peak_mb()  # this process, all jobs (an inline run included)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
