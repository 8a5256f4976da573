"""--scheduler: the same bytes on a real Dask cluster (two worker processes) as inline.

One ``distributed.LocalCluster`` (processes=True, 2 workers, 1 thread each) serves the module;
the data is a few real symbols and events. The study, recovery and trade are compared in
process (their tables through the exporters the commands use); one ``run`` through the CLI
proves the command-line path; the killed worker interrupts a trade grid.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings

import numpy as np
import pytest
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

import backtest.scheduler as scheduler
import backtest.study.pairs as pairs
from backtest.cli import main
from backtest.commands.study import to_json
from backtest.errors import DataError, DataWarning, ParameterError, SchedulerError
from backtest.inputs import load_inputs
from backtest.recovery import recovery
from backtest.report.export import to_csv
from backtest.scheduler import open_scheduler, parse_scheduler, split
from backtest.sources import SourcePrices, get_source, load_prices, subset_prices
from backtest.sources.parquet import write_dataset
from backtest.study import event_study
from backtest.study.block import BlockInput, BlockSpec, concat_computed, run_blocks, slices, table_arrays
from backtest.study.blocks import map_blocks
from backtest.study.sufficient import ScopeStats
from backtest.trade import run_strategy

# Four US symbols, two events: every window inside the data, no warnings.
STOCKS = ["NVDA", "MU", "AMD", "AVGO"]
EVENTS = ["deepseek_r1", "us_tariffs_liberation_day"]
GRID = {"hold": [1, 5, 10], "threshold": [0.03, 0.05]}


@pytest.fixture(scope="module")
def cluster():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own start-up chatter (ports, versions)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as lc:
            with Client(lc) as client:
                yield client


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """The stocks and SPY as a parquet dataset the workers read themselves."""
    return write_dataset(load_prices([*STOCKS, "SPY"]), tmp_path_factory.mktemp("data") / "prices")


def _study_bytes(result) -> dict[str, bytes]:
    """What ``backtest study --csv --json --out`` writes, per table."""
    files = {name: to_csv(getattr(result, name)).encode()
             for name in ("car", "tests", "fits", "abnormal_returns", "aar")}
    files["json"] = json.dumps(to_json(result), indent=2).encode()
    return files


def test_study_blocks_read_on_the_workers_give_the_inline_bytes(cluster, dataset, monkeypatch):
    # blocks of 3 pairs: the 8 pairs grouped by symbol into 3 units, events straddling them
    monkeypatch.setattr(pairs, "BLOCK_SIZE", 3)
    inputs = load_inputs(symbols=STOCKS, event_ids=EVENTS, source="parquet", path=dataset)
    args = (inputs.alignment, inputs.calendars)
    options = {"other_events": inputs.all_alignment}  # the run below covers the robustness reruns
    with warnings.catch_warnings(record=True) as inline_warnings:
        warnings.simplefilter("always")
        inline = event_study(inputs.prices, *args, **options)
    shipped = inputs.unit_prices(remote=True)
    assert isinstance(shipped, SourcePrices)  # the dataset's location and names travel, no bars
    one_unit = subset_prices(shipped, ["NVDA", "SPY"])
    assert len(pickle.dumps(one_unit)) < 2_000 < 20_000 < len(pickle.dumps(dict(one_unit)))
    with warnings.catch_warnings(record=True) as mapped_warnings:
        warnings.simplefilter("always")
        mapped = event_study(shipped, *args, scheduler=cluster, **options)
    assert [str(w.message) for w in mapped_warnings] == [str(w.message) for w in inline_warnings]
    inline_files, mapped_files = _study_bytes(inline), _study_bytes(mapped)
    for name, content in inline_files.items():
        assert mapped_files[name] == content, name
    assert b"bmp_kp" in inline_files["json"]  # the tests table (Kolari-Pynnonen included) is in the JSON
    assert len(inline.car) == 8 * 5


def test_study_in_symbol_blocks_equals_one_block(monkeypatch):
    # Blocks grouped by symbol merge the per-event statistics in another order than one
    # block does: the same numbers up to rounding (across schedulers the bytes match, above).
    inputs = load_inputs(symbols=STOCKS, event_ids=EVENTS)
    whole = event_study(inputs.prices, inputs.alignment, inputs.calendars)
    monkeypatch.setattr(pairs, "BLOCK_SIZE", 3)
    built, build = [], pairs.pair_windows

    def recorded(prices, rows, *args):
        built.append((len(rows), sorted(prices)))
        return build(prices, rows, *args)

    monkeypatch.setattr(pairs, "pair_windows", recorded)
    cut = event_study(inputs.prices, inputs.alignment, inputs.calendars)
    # no windows of all pairs at once: the pairs grouped by symbol (NVDA NVDA MU | MU AMD AMD |
    # AVGO AVGO), each unit with the prices of its own symbols and benchmark only
    assert built == [(3, ["MU", "NVDA", "SPY"]), (3, ["AMD", "MU", "SPY"]), (2, ["AVGO", "SPY"])]
    for name in ("car", "fits", "abnormal_returns"):
        assert to_csv(getattr(cut, name)) == to_csv(getattr(whole, name)), name
    for name in ("tests", "aar"):
        numbers = getattr(whole, name).select_dtypes("number").columns
        np.testing.assert_allclose(getattr(cut, name)[numbers].to_numpy(float),
                                   getattr(whole, name)[numbers].to_numpy(float), rtol=1e-9, atol=1e-12)


def test_study_blocks_on_workers_reduce_to_the_inline_statistics(cluster):
    # 30 pairs of 3 events in blocks of 4: events straddle blocks, as in a large study.
    rng = np.random.default_rng(7)
    market = rng.standard_t(4, (30, 130)) * 0.01
    returns = 1.2 * market + rng.normal(0, 0.015, (30, 130))
    returns[3, 40:55] = np.nan  # a gap in the estimation window
    scope = np.repeat([0, 1, 2], 10)
    blocks = [BlockInput(returns[b, :100], market[b, :100, None], returns[b, 100:], market[b, 100:, None],
                         scope[b]) for b in slices(30, 4)]
    spec = BlockSpec(model="market", min_estimation=60, car_cols=((5, 5), (5, 10)), day0_col=5)
    inline_stats, inline_parts = run_blocks(blocks, spec, table_arrays)
    with open_scheduler(cluster, progress=False) as mapper:
        stats, parts = map_blocks(blocks, spec, table_arrays, mapper)
    assert len(parts) == len(blocks) == 8
    for name in ScopeStats.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(stats, name), getattr(inline_stats, name), err_msg=name)
    np.testing.assert_array_equal(concat_computed(parts).car, concat_computed(inline_parts).car)


def _same_files(first, second) -> list[str]:
    """Names of the CSV and JSON files of two output directories, after checking their bytes agree."""
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    checked = [n for n in names if n.endswith((".csv", ".json"))]
    for name in checked:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    return checked


def _trade_bytes(result) -> list[str]:
    return [to_csv(result.results), to_csv(result.aggregate), to_csv(result.trades),
            result.value.tobytes().hex()]


def _trade(scheduler=None):
    inputs = load_inputs(symbols=STOCKS, event_ids=EVENTS)
    return run_strategy("buy_the_dip", inputs.prices, inputs.alignment, inputs.calendars, grid=GRID,
                        horizon=20, scheduler=scheduler)


def test_trade_grid_slices_give_the_inline_bytes(cluster):
    inline = _trade()
    assert len(inline.results) == 8 * 6
    assert _trade_bytes(_trade(cluster)) == _trade_bytes(inline)


def test_recovery_tables_and_warnings_match_inline(cluster):
    # QQQ is not loaded: the warning raised on a worker comes back here, once, as inline.
    inputs = load_inputs(symbols=["NVDA", "MU"], event_ids=["deepseek_r1", "us_tariff_pause"])
    args = (inputs.prices, inputs.alignment, inputs.calendars)
    with pytest.warns(DataWarning, match="benchmark QQQ") as inline_warnings:
        inline = recovery(*args, horizon=20, benchmarks={"MU": "QQQ"})
    with pytest.warns(DataWarning, match="benchmark QQQ") as mapped_warnings:
        mapped = recovery(*args, horizon=20, benchmarks={"MU": "QQQ"}, scheduler=cluster)
    assert [str(w.message) for w in mapped_warnings] == [str(w.message) for w in inline_warnings]
    for table in ("table", "paths", "survival"):
        assert getattr(mapped, table).to_csv() == getattr(inline, table).to_csv(), table


def test_run_writes_the_inline_files(cluster, dataset, tmp_path, capsys):
    # the one CLI run: study, recovery and trade of `run`, the units reading the dataset
    argv = ["run", "--symbols", "NVDA", "MU", "--event", "deepseek_r1", "--grid", "hold=1,5",
            "threshold=0.03,0.05", "--horizon", "20", "--quiet", "--source", "parquet", "--path", dataset]
    assert main([*argv, "--out", str(tmp_path / "inline")]) == 0
    assert main([*argv, "--out", str(tmp_path / "cluster"), "--scheduler", cluster.scheduler.address]) == 0
    capsys.readouterr()
    checked = _same_files(tmp_path / "inline", tmp_path / "cluster")
    assert "results.json" in checked and len(checked) >= 10


class DieOnce(WorkerPlugin):
    """Kills the worker process the first time any worker starts a task (the marker says it happened)."""

    name = "die-once"

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key, start, finish, **kwargs):
        if finish == "executing" and not os.path.exists(self.marker):
            with open(self.marker, "w") as handle:
                handle.write(str(os.getpid()))
            os._exit(1)  # the process dies mid-run, as with an OOM kill; the nanny starts a new one


def test_a_worker_killed_mid_run_still_gives_the_identical_result(cluster, tmp_path):
    inline = _trade()
    marker = tmp_path / "killed"
    cluster.register_plugin(DieOnce(str(marker)))
    try:
        mapped = _trade(cluster)
    finally:
        cluster.unregister_worker_plugin(DieOnce.name)
    assert marker.exists()  # a worker really died while the run was going
    assert _trade_bytes(mapped) == _trade_bytes(inline)
    cluster.wait_for_workers(2, timeout=60)  # and the nanny replaced it


def test_unreachable_scheduler_is_one_line_exit_2(capsys, monkeypatch):
    monkeypatch.setattr(scheduler, "CONNECT_TIMEOUT", "1s")
    code, out, err = _run(capsys, "study", "--scheduler", "tcp://127.0.0.1:9")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "no Dask scheduler answers there" in err and "local:2" in err


def test_bad_scheduler_text_names_the_option(capsys):
    code, _, err = _run(capsys, "recovery", "--scheduler", "local")
    assert code == 2 and "--scheduler 'local'" in err and "local:N" in err
    with pytest.raises(ParameterError, match="at least 1 worker"):
        parse_scheduler("local:0")


def test_local_n_starts_a_cluster_and_says_where_its_dashboard_is():
    lines: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with open_scheduler("local:1", announce=lines.append, progress=False) as mapper:
            assert mapper.workers == 1
            # outputs come straight from the workers, not relayed by the scheduler (which runs
            # in this process on a local cluster: relayed, every output crossed a socket twice)
            relayed = []
            handlers = mapper.client.cluster.scheduler.handlers
            gather = handlers["gather"]
            handlers["gather"] = lambda *args, **kwargs: relayed.append(1) or gather(*args, **kwargs)
            assert mapper.map(pow, [2, 3], exp=2) == [4, 9]
            assert relayed == []
            # not Dask's MALLOC_TRIM_THRESHOLD_ (scheduler._local_cluster); its thread limits kept
            environ = mapper.map(lambda _: dict(os.environ), [None])
    assert [e.get("MALLOC_TRIM_THRESHOLD_") for e in environ] == [None]
    assert [e.get("OMP_NUM_THREADS") for e in environ] == ["1"]
    assert len(lines) == 1 and "local cluster of 1 worker" in lines[0] and "dashboard: http" in lines[0]


def test_a_script_starting_local_n_without_a_main_guard_is_told_to_add_one(tmp_path):
    # Each worker process re-imports the main script; unguarded, the script asks every worker
    # for a cluster of its own. Before: multiprocessing's bootstrapping error in each worker and
    # Dask's "Nanny failed to start" tracebacks. Now: the workers stop quietly and the script
    # gets one SchedulerError that names the script and the fix.
    import subprocess
    import sys

    script = tmp_path / "unguarded_job.py"
    script.write_text(
        "from backtest.scheduler import open_scheduler\n"
        "with open_scheduler('local:1', progress=False) as mapper:\n"
        "    print(mapper.map(abs, [-1]))\n"
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("backtest.errors.SchedulerError: --scheduler local:1: the worker processes "
                           "did not start")
    assert "unguarded_job.py" in last and 'if __name__ == "__main__":' in last
    assert done.stderr.count("Traceback") == 1  # the script's own; none from the workers or Dask
    guarded = tmp_path / "guarded_job.py"
    guarded.write_text("if __name__ == '__main__':\n" + "".join(
        f"    {line}\n" for line in script.read_text().splitlines()))
    done = subprocess.run([sys.executable, str(guarded)], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip() == "[1]"


def _end_the_worker(item):
    if item == "fatal":
        os._exit(3)  # what the kernel's OOM killer does to a worker, as the scheduler sees it
    return item


def test_a_unit_that_ends_every_worker_it_runs_on_is_one_schedulererror_naming_it():
    # Before: distributed's KilledWorker escaped (a traceback from the CLI). The scheduler retries
    # a unit on fresh workers allowed-failures times, then gives up; the Mapper says which unit,
    # how often, and the usual cause and fix.
    import dask

    with warnings.catch_warnings(), dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        warnings.simplefilter("ignore")
        with open_scheduler("local:1", progress=False) as mapper:
            assert mapper.map(_end_the_worker, ["a"]) == ["a"]
            with pytest.raises(SchedulerError) as caught:  # one unit: units queued behind it on
                # the dying worker count as suspects too, and may be given up on first
                mapper.map(_end_the_worker, ["fatal"], label="study blocks")
            # the cluster is still usable after the failure: the worker was replaced
            assert mapper.map(_end_the_worker, ["c"]) == ["c"]
    message = str(caught.value)
    assert message.startswith("study blocks: unit 1 of 1 ended the worker process that ran it 2 times")
    assert "ran out of memory" in message and "--memory-limit" in message and "\n" not in message


def _nap(item):
    import time

    time.sleep(0.5)
    return item


def test_a_scheduler_lost_mid_run_is_one_schedulererror(monkeypatch):
    # Before: distributed handed each cancelled unit's FutureCancelledError over as its output,
    # and the Mapper failed later with "TypeError: cannot unpack non-iterable ...".
    import threading

    monkeypatch.setattr(scheduler, "CONNECT_TIMEOUT", "1s")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SchedulerError) as caught, open_scheduler("local:1", progress=False) as mapper:
            stop = threading.Timer(1.2, mapper.client.cluster.close)  # the scheduler goes away
            stop.start()
            try:
                mapper.map(_nap, list(range(12)), label="recovery blocks")
            finally:
                stop.join()
    message = str(caught.value)
    assert message.startswith("recovery blocks: the Dask scheduler dropped unit ") and " of 12 " in message
    assert "connection to it was lost" in message and "\n" not in message


_UNPICKLED_IN: list[int] = []  # each process a _Noted input was unpickled in, as that process saw it


def _noted(value):
    _UNPICKLED_IN.append(os.getpid())
    return _Noted(value)


class _Noted:
    """A unit input that notes the process it is unpickled in."""

    def __init__(self, value):
        self.value = value

    def __reduce__(self):
        return _noted, (self.value,)


def _value_and_pid(item):
    return item.value, _UNPICKLED_IN[-1], os.getpid()


def test_the_scheduler_passes_a_units_input_on_without_unpickling_it(cluster):
    # A local cluster's scheduler runs in this process. Dask's scheduler unpickled every task's
    # input (a block's tables) and pickled it again for the worker, taking this process's CPU
    # beside the workers. Now a unit's input is unpickled once, on the worker that runs it.
    _UNPICKLED_IN.clear()
    outputs = scheduler.Mapper(cluster, progress=False).map(_value_and_pid, [_Noted(1), _Noted(2)])
    assert [value for value, _, _ in outputs] == [1, 2]
    assert all(unpickled_in == ran_in != os.getpid() for _, unpickled_in, ran_in in outputs)
    assert _UNPICKLED_IN == []


def test_a_mapper_waits_on_its_own_clients_event_loop(cluster, monkeypatch):
    # The module's `with Client(...)` made that client the current one, and as_completed runs
    # on the current client's event loop unless told otherwise: a Mapper on another client
    # waited for its futures on a loop that was not theirs, and now and then missed their
    # completion (CI hung in Mapper.map, inside test_local_n_starts_a_cluster...).
    import distributed

    loops = []
    real = distributed.as_completed

    def recording(*args, **kwargs):
        made = real(*args, **kwargs)
        loops.append(made.loop)
        return made

    monkeypatch.setattr(distributed, "as_completed", recording)
    other = Client(cluster.scheduler.address, set_as_default=False)
    try:
        assert distributed.default_client() is cluster  # the module's client is the current one
        assert scheduler.Mapper(other, progress=False).map(abs, [-1, 2, -3]) == [1, 2, 3]
        assert loops == [other.loop] and other.loop is not cluster.loop
    finally:
        other.close()


@pytest.mark.parametrize(("n", "k"), [(0, 3), (1, 3), (5, 2), (7, 7), (10, 3)])
def test_split_covers_every_item_once_in_order(n, k):
    parts = split(n, k)
    covered = [i for s in parts for i in range(s.start, s.stop)]
    assert covered == list(range(n))
    sizes = [s.stop - s.start for s in parts]
    assert max(sizes) - min(sizes) <= 1


def test_recovery_reading_the_dataset_on_the_workers_gives_the_inline_bytes(cluster, dataset):
    inputs = load_inputs(symbols=["NVDA", "MU"], event_ids=["deepseek_r1"])
    inline = recovery(inputs.prices, inputs.alignment, inputs.calendars, horizon=20)
    shipped = SourcePrices(get_source("parquet", path=dataset), list(inputs.prices))
    mapped = recovery(shipped, inputs.alignment, inputs.calendars, horizon=20, scheduler=cluster)
    for table in ("table", "paths", "survival"):
        assert to_csv(getattr(mapped, table)) == to_csv(getattr(inline, table)), table


@pytest.fixture
def empty_cluster():
    """A scheduler with no workers yet (the tests add them), reached as tcp://HOST:PORT."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with LocalCluster(n_workers=0, threads_per_worker=1, processes=True, dashboard_address=":0") as lc:
            yield lc


def test_a_remote_scheduler_without_workers_says_it_waits_for_them(empty_cluster):
    # Before: a bar that never moved, and no word of why.
    import threading

    lines: list[str] = []
    address = empty_cluster.scheduler_address
    start = threading.Timer(1.0, empty_cluster.scale, args=(1,))
    start.start()
    try:
        with open_scheduler(address, announce=lines.append, progress=False) as mapper:
            assert mapper.map(abs, [-3]) == [3]
    finally:
        start.join()
    assert lines[0].startswith(f"Dask scheduler {address}; dashboard: ")
    assert lines[1] == (f"Dask scheduler {address} has no workers yet; waiting for the first "
                        f"('dask worker {address}' starts them)")


def _worker_with(path, address):
    """A worker process whose Python finds ``path`` first (cwd too: ``python -m`` puts it on the path)."""
    import subprocess
    import sys

    return subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_worker", address, "--nthreads", "1", "--no-nanny"],
        env=os.environ | {"PYTHONPATH": str(path)}, cwd=path,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.parametrize("package, expected", [
    # a worker machine without backtest (here: its import fails as a missing one does)
    ("raise ModuleNotFoundError(\"No module named 'backtest'\")\n",
     "the workers cannot run backtest (ModuleNotFoundError(\"No module named 'backtest'\")); "
     "install backtest 0.1.0 with its dask extra on every worker machine"),
    # a worker machine with another version
    ("__version__ = '0.0.1'\n",
     "1 of 1 workers run backtest 0.0.1 (e.g. tcp://"),
])
def test_workers_without_this_backtest_are_one_schedulererror(empty_cluster, tmp_path, package, expected):
    # Before: every unit failed on such a worker (ModuleNotFoundError), or ran other code.
    (tmp_path / "backtest").mkdir()
    (tmp_path / "backtest" / "__init__.py").write_text(package)
    address = empty_cluster.scheduler_address
    worker = _worker_with(tmp_path, address)
    try:
        with pytest.raises(SchedulerError) as caught, open_scheduler(address, progress=False):
            pass
    finally:
        worker.terminate()
        worker.wait(30)
    assert str(caught.value).startswith(f"--scheduler {address}: {expected}")
    assert "\n" not in str(caught.value)


def _close_of(prices, symbol):
    return float(prices[symbol]["close"].iloc[-1])


def test_a_dataset_the_workers_cannot_see_is_one_error_not_a_hung_run(cluster, tmp_path):
    # Before: the dataset's check ran while the workers unpickled the unit, which broke their
    # connection to the scheduler, and the run waited forever.
    import shutil

    data = write_dataset(load_prices(["NVDA", "SPY"]), tmp_path / "prices")
    prices = SourcePrices(get_source("parquet", path=str(data)), ["NVDA", "SPY"])
    mapper = scheduler.Mapper(cluster, progress=False)
    assert mapper.map(_close_of, [prices], symbol="NVDA") == [_close_of(load_prices(["NVDA"]), "NVDA")]
    shutil.move(data, tmp_path / "elsewhere")  # as on worker machines that do not mount it
    with pytest.raises(DataError, match=r"parquet dataset not found at .* on the worker that ran this unit"):
        mapper.map(_close_of, [prices], symbol="SPY")
    assert mapper.map(abs, [-2]) == [2]  # the workers still serve
