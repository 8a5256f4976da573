"""The partitioned Parquet price dataset: layout, round trip, fsspec URLs, export and fetch --to."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from test_yahoo import history, yf_download_like

import backtest.sources.yahoo as yahoo
from backtest.cli import main
from backtest.errors import DataError, ParameterError, UnknownSymbolError
from backtest.sources import get_source, load_prices
from backtest.sources.parquet import ParquetSource, partition_name, write_dataset

SYMBOLS = ["NVDA", "SPY", "^N225", "285A.T"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    target = tmp_path_factory.mktemp("ds") / "prices"
    write_dataset(load_prices(SYMBOLS), target)
    return target


def test_round_trip_equals_the_snapshot_files(dataset):
    source = ParquetSource(dataset)
    assert source.symbols() == sorted(SYMBOLS)
    for symbol in SYMBOLS:
        expected = get_source("snapshot").load(symbol)
        pd.testing.assert_frame_equal(source.load(symbol), expected, check_freq=False)


def test_layout_is_what_pyarrow_hive_partitioning_reads(dataset):
    # An outside reader (pyarrow's own hive discovery) sees one table with a symbol column.
    table = ds.dataset(dataset, partitioning="hive").to_table().to_pandas()
    assert sorted(table["symbol"].unique()) == sorted(SYMBOLS)
    nvda = table[table["symbol"] == "NVDA"].set_index("date")
    assert nvda.loc[pd.Timestamp("2025-01-27"), "close"] == pytest.approx(118.11, abs=0.005)


def test_partition_names_match_pyarrows_writer(tmp_path):
    ds.write_dataset(pa.table({"symbol": ["^N225", "285A.T"], "x": [1, 2]}), tmp_path, format="parquet",
                     partitioning=["symbol"], partitioning_flavor="hive")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(map(partition_name, ["^N225", "285A.T"]))


def test_fsspec_url_reads_and_writes():
    url = "memory://backtest-test/prices"
    write_dataset(load_prices(["SPY"]), url)
    source = get_source("parquet", path=url)
    assert source.symbols() == ["SPY"]
    assert len(source.load("SPY")) == len(get_source("snapshot").load("SPY"))


def test_unknown_symbol_and_missing_dataset_say_the_fix(dataset, tmp_path):
    with pytest.raises(UnknownSymbolError, match=r"did you mean 'NVDA'.*backtest data export"):
        ParquetSource(dataset).load("NVDX")
    with pytest.raises(DataError, match="backtest data export --to"):
        ParquetSource(tmp_path / "nope")
    with pytest.raises(ParameterError, match="--path"):
        get_source("parquet")


def test_export_refuses_a_directory_that_is_not_a_dataset(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["data", "export", "SPY", "--to", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--to" in err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_export_replaces_a_dataset_as_one_set(tmp_path, capsys):
    target = tmp_path / "prices"
    assert main(["data", "export", "SPY", "NVDA", "--to", str(tmp_path / "prices")]) == 0
    assert main(["data", "export", "QQQ", "--to", str(target)]) == 0
    assert ParquetSource(target).symbols() == ["QQQ"]
    assert [p.name for p in tmp_path.iterdir()] == ["prices"]  # no staging, lock or old set left behind
    rows = ds.dataset(target, partitioning="hive").to_table().num_rows
    assert rows == len(get_source("snapshot").load("QQQ"))


def test_export_failure_keeps_the_previous_dataset(tmp_path):
    target = tmp_path / "prices"
    write_dataset(load_prices(["SPY"]), target)

    def failing():
        yield "NVDA", get_source("snapshot").load("NVDA")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_dataset(failing(), target)
    assert ParquetSource(target).symbols() == ["SPY"]
    assert [p.name for p in tmp_path.iterdir()] == ["prices"]


def test_study_on_the_dataset_writes_the_snapshot_studys_bytes(dataset, tmp_path, capsys):
    args = ["study", "--symbols", "NVDA", "--event", "deepseek_r1"]
    assert main([*args, "--csv", str(tmp_path / "a.csv")]) == 0
    assert main([*args, "--source", "parquet", "--path", str(dataset), "--csv", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()


def test_path_applies_to_parquet_only(capsys):
    assert main(["study", "--path", "x"]) == 2
    assert "--path applies to --source parquet" in capsys.readouterr().err


def test_fetch_to_writes_each_download_into_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(yahoo, "yfinance_download", lambda symbols, start, end: yf_download_like(
        {"NVDA": history("NVDA")}))
    target = tmp_path / "prices"
    code = main(["data", "fetch", "NVDA", "--cache-dir", str(tmp_path / "cache"), "--to", str(target)])
    assert code == 0
    cached = get_source("yahoo", cache_dir=tmp_path / "cache").cache.read("NVDA")
    written = ParquetSource(target).load("NVDA")
    pd.testing.assert_frame_equal(written, cached, check_freq=False)
    assert written.index[0] == pd.Timestamp("2025-01-22") and written.index[-1] == pd.Timestamp("2025-02-04")


class CountingSource:
    """A source that records which symbols were read."""

    name = "parquet"

    def __init__(self, inner):
        self.inner, self.read = inner, []

    def load(self, symbol):
        self.read.append(symbol)
        return self.inner.load(symbol)

    def symbols(self):
        return self.inner.symbols()


def test_a_unit_reads_only_its_own_symbols_and_ships_no_bars(dataset):
    import pickle

    from backtest.sources import SourcePrices, subset_prices, unit_prices

    source = CountingSource(ParquetSource(dataset))
    everything = unit_prices(load_prices(SYMBOLS), source, remote=True)
    assert isinstance(everything, SourcePrices) and source.read == []
    unit = subset_prices(everything, ["NVDA", "SPY", "QQQ"])  # QQQ is not in the dataset
    assert list(unit) == ["NVDA", "SPY"] and source.read == []
    assert len(pickle.dumps(ParquetSource(dataset))) < 1000  # the location travels, not the data
    assert unit["NVDA"].loc["2025-01-27", "close"] == pytest.approx(118.11, abs=0.005)
    assert source.read == ["NVDA"]
    assert unit_prices({"NVDA": None}, source, remote=False) == {"NVDA": None}  # inline: the loaded bars


def test_a_shipped_source_opens_the_absolute_path_and_says_when_it_is_gone(dataset, tmp_path, monkeypatch):
    # Before: the relative path travelled as typed (a worker in another directory did not find it)
    # and the check ran while a task was unpickled: that broke the worker and the run hung.
    import pickle
    import shutil

    monkeypatch.chdir(dataset.parent)
    source = ParquetSource(f"./{dataset.name}")
    monkeypatch.chdir(tmp_path)  # the worker's working directory is another one
    shipped = pickle.loads(pickle.dumps(source))
    assert shipped.path == f"./{dataset.name}"  # what the user typed, for messages
    assert shipped.load("NVDA").loc["2025-01-27", "close"] == pytest.approx(118.11, abs=0.005)
    shutil.move(dataset, tmp_path / "moved")  # as on a worker machine that does not mount it
    try:
        gone = pickle.loads(pickle.dumps(source))  # unpickles without a check
        with pytest.raises(DataError) as caught:
            gone.load("SPY")
    finally:
        shutil.move(tmp_path / "moved", dataset)
    message = str(caught.value)
    assert message.startswith(f"./{dataset.name}: parquet dataset not found at {dataset} on the worker")
    assert "every worker must read it at the same location" in message
