"""--scheduler: the same bytes on a real Dask cluster (two worker processes) as inline.

One ``distributed.LocalCluster`` (processes=True, 2 workers, 1 thread each) serves the module;
the data is a few real symbols and events, so each command takes seconds.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin

import backtest.scheduler as scheduler
from backtest.cli import main
from backtest.errors import DataWarning, ParameterError
from backtest.inputs import load_inputs
from backtest.recovery import recovery
from backtest.scheduler import open_scheduler, parse_scheduler, split
from backtest.study.block import BlockInput, BlockSpec, concat_computed, run_blocks, slices, table_arrays
from backtest.study.blocks import map_blocks
from backtest.study.sufficient import ScopeStats

# Four US symbols, two events: every window inside the data, no warnings.
SYMBOLS = ["--symbols", "NVDA", "MU", "AMD", "AVGO", "--event", "deepseek_r1", "--event",
           "us_tariffs_liberation_day"]


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


def test_study_writes_the_inline_bytes(cluster, tmp_path, capsys):
    files = {}
    for name, where in (("inline", "inline"), ("cluster", cluster.scheduler.address)):
        csv, js = tmp_path / f"{name}.csv", tmp_path / f"{name}.json"
        code, out, err = _run(capsys, "study", *SYMBOLS, "--csv", str(csv), "--json", str(js),
                              "--scheduler", where)
        assert code == 0, err
        files[name] = (csv.read_bytes(), js.read_bytes(), out)
    assert files["cluster"] == files["inline"]
    assert b"bmp_kp" in files["inline"][1]  # the tests table (Kolari-Pynnonen included) is in the JSON


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


def test_recovery_and_trade_write_and_print_the_inline_bytes(cluster, tmp_path, capsys):
    for command in (["recovery", *SYMBOLS, "--horizon", "20"],
                    ["trade", "buy_the_dip", *SYMBOLS, "--grid", "hold=1,5,10", "threshold=0.03,0.05",
                     "--horizon", "20", "--trades"]):
        code, inline, err = _run(capsys, *command, "--out", str(tmp_path / command[0] / "inline"))
        assert code == 0, err
        code, mapped, err = _run(capsys, *command, "--out", str(tmp_path / command[0] / "cluster"),
                                 "--scheduler", cluster.scheduler.address)
        assert code == 0, err
        assert mapped.replace("cluster", "inline") == inline and len(inline) > 500
        checked = _same_files(tmp_path / command[0] / "inline", tmp_path / command[0] / "cluster")
        assert "results.json" in checked and len(checked) >= 3


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


def test_run_writes_the_inline_files(cluster, tmp_path, capsys):
    argv = ["run", "--symbols", "NVDA", "MU", "--event", "deepseek_r1", "--grid", "hold=1,5",
            "threshold=0.03,0.05", "--horizon", "20", "--quiet"]
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


def test_a_worker_killed_mid_run_still_gives_the_identical_result(cluster, tmp_path, capsys):
    argv = ["trade", "buy_the_dip", *SYMBOLS, "--grid", "hold=1,5,10", "threshold=0.03,0.05",
            "--horizon", "20", "--trades"]
    code, inline, _ = _run(capsys, *argv)
    assert code == 0
    marker = tmp_path / "killed"
    cluster.register_plugin(DieOnce(str(marker)))
    try:
        code, mapped, err = _run(capsys, *argv, "--scheduler", cluster.scheduler.address)
    finally:
        cluster.unregister_worker_plugin(DieOnce.name)
    assert marker.exists()  # a worker really died while the run was going
    assert code == 0, err
    assert mapped == inline
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
            assert mapper.map(pow, [2, 3], exp=2) == [4, 9]
    assert len(lines) == 1 and "local cluster of 1 worker" in lines[0] and "dashboard: http" in lines[0]


@pytest.mark.parametrize(("n", "k"), [(0, 3), (1, 3), (5, 2), (7, 7), (10, 3)])
def test_split_covers_every_item_once_in_order(n, k):
    parts = split(n, k)
    covered = [i for s in parts for i in range(s.start, s.stop)]
    assert covered == list(range(n))
    sizes = [s.stop - s.start for s in parts]
    assert max(sizes) - min(sizes) <= 1


def test_recovery_reading_the_dataset_on_the_workers_prints_the_inline_bytes(cluster, tmp_path, capsys):
    assert main(["data", "export", "NVDA", "MU", "SPY", "--to", str(tmp_path / "prices")]) == 0
    command = ["recovery", "--symbols", "NVDA", "MU", "--event", "deepseek_r1", "--horizon", "20"]
    code, inline, _ = _run(capsys, *command)
    assert code == 0
    code, mapped, err = _run(capsys, *command, "--source", "parquet", "--path", str(tmp_path / "prices"),
                             "--scheduler", cluster.scheduler.address)
    assert code == 0, err
    assert mapped == inline
