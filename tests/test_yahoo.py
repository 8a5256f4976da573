"""Yahoo adapter on frames shaped exactly like yfinance 1.x ``yf.download`` output; no network.

``yf_download_like`` rebuilds what ``yfinance.multi.download`` does with per-ticker
``Ticker.history`` frames (auto_adjust=True, actions=False, daily, ignore_tz=True):
failed tickers become ``utils.empty_df()`` (with an ``Adj Close`` column), every
frame is reindexed to the union of dates, concatenated with keys
(names Ticker, Price), levels swapped to (Price, Ticker) and sorted.
``test_helper_matches_real_yfinance`` checks that against the installed yfinance.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

import backtest.sources.yahoo as yahoo
from backtest.errors import DownloadError, ParameterError, UnknownSymbolError
from backtest.sources import get_source
from backtest.sources.yahoo import YahooSource, split_download

TZ = {"NVDA": "America/New_York", "005930.KS": "Asia/Seoul"}


def history(symbol: str, start: str = "2025-01-22", end: str = "2025-02-04") -> pd.DataFrame:
    """A ``Ticker.history`` frame (auto-adjusted) built from the snapshot's real rows."""
    bars = get_source("snapshot").load(symbol).loc[start:end]
    frame = pd.DataFrame(
        {
            "Open": bars["open"],
            "High": bars["high"],
            "Low": bars["low"],
            "Close": bars["close"],
            "Volume": bars["volume"].fillna(0).astype(np.int64),
        },
    )
    frame.index = pd.DatetimeIndex(bars.index).tz_localize(TZ.get(symbol, "America/New_York"))
    frame.index.name = "Date"
    return frame


def empty_df() -> pd.DataFrame:
    # yfinance.utils.empty_df(): what a failed ticker contributes
    frame = pd.DataFrame(
        index=[],
        data={
            "Open": np.nan,
            "High": np.nan,
            "Low": np.nan,
            "Close": np.nan,
            "Adj Close": np.nan,
            "Volume": np.nan,
        },
    )
    frame.index.name = "Date"
    return frame


def yf_download_like(frames: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    dfs = {}
    for ticker, frame in frames.items():
        frame = empty_df() if frame is None else frame.copy()
        if len(frame):
            frame.index = frame.index.tz_localize(None)
        dfs[ticker.upper()] = frame
    index = None
    for frame in dfs.values():
        if len(frame):
            index = frame.index if index is None else index.union(frame.index)
    index = pd.DatetimeIndex([]) if index is None else index
    dfs = {key: frame.reindex(index) for key, frame in dfs.items()}
    data = pd.concat(dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    return data.sort_index(level=0, axis=1)


class FakeTicker:
    """Stands in for ``yfinance.Ticker`` inside the real ``yf.download``."""

    behaviour: ClassVar[dict[str, object]] = {}

    def __init__(self, ticker):
        self.ticker = ticker
        self._price_history = None

    def history(self, **kwargs):
        outcome = self.behaviour[self.ticker]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome.copy()


@pytest.fixture
def fake_yfinance(monkeypatch):
    import yfinance.multi

    monkeypatch.setattr(yfinance.multi, "Ticker", FakeTicker)
    return FakeTicker.behaviour


def real_download(symbols):
    import warnings

    import yfinance as yf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return yf.download(symbols, start="2025-01-01", progress=False, threads=False)


def test_helper_matches_real_yfinance(fake_yfinance):
    from yfinance.exceptions import YFPricesMissingError

    fake_yfinance.update(
        {"NVDA": history("NVDA"), "005930.KS": history("005930.KS"), "ZZZZ": YFPricesMissingError("ZZZZ", "")}
    )
    for case in (["NVDA"], ["NVDA", "005930.KS"], ["NVDA", "ZZZZ"], ["ZZZZ"]):
        real = real_download(case)
        like = yf_download_like({s: None if s == "ZZZZ" else history(s) for s in case})
        assert real.columns.names == ["Price", "Ticker"]
        pd.testing.assert_frame_equal(real, like, check_freq=False, check_index_type=False)


def expected(symbol):
    return get_source("snapshot").load(symbol).loc["2025-01-22":"2025-02-04"]


def test_one_ticker():
    parts = split_download(yf_download_like({"NVDA": history("NVDA")}), ["NVDA"], TZ)
    pd.testing.assert_frame_equal(parts["NVDA"], expected("NVDA"), check_freq=False)
    # NVDA 2025-01-27 -16.97 % (PROVENANCE.md) survives the round trip
    assert parts["NVDA"]["close"].pct_change().loc["2025-01-27"] == pytest.approx(-0.1697, abs=1e-4)


def test_several_tickers_drop_the_padding_rows():
    frame = yf_download_like({"NVDA": history("NVDA"), "005930.KS": history("005930.KS")})
    # the union index holds 2025-01-27..30, when KRX was closed: NaN rows for Samsung
    assert frame[("Close", "005930.KS")].isna().sum() == 4
    parts = split_download(frame, ["NVDA", "005930.KS"], TZ)
    pd.testing.assert_frame_equal(parts["005930.KS"], expected("005930.KS"), check_freq=False)
    pd.testing.assert_frame_equal(parts["NVDA"], expected("NVDA"), check_freq=False)


def test_unknown_ticker_alone_and_in_a_batch():
    assert split_download(yf_download_like({"ZZZZ": None}), ["ZZZZ"], TZ) == {"ZZZZ": None}
    parts = split_download(yf_download_like({"NVDA": history("NVDA"), "ZZZZ": None}), ["NVDA", "ZZZZ"], TZ)
    assert parts["ZZZZ"] is None
    assert len(parts["NVDA"]) == len(expected("NVDA"))


def test_other_shapes_lowercase_group_by_ticker_flat_and_adj_close():
    frame = yf_download_like({"NVDA": history("NVDA")})
    lower = split_download(frame, ["nvda"], TZ)["nvda"]  # yfinance upper-cases tickers
    by_ticker = split_download(frame.swaplevel(0, 1, axis=1), ["NVDA"], TZ)["NVDA"]
    flat = split_download(frame.droplevel(1, axis=1), ["NVDA"], TZ)["NVDA"]
    for other in (lower, by_ticker, flat):
        pd.testing.assert_frame_equal(other, expected("NVDA"), check_freq=False)
    # auto_adjust=False shape: raw prices plus Adj Close = 0.5 x Close -> all prices halve
    raw = frame.copy()
    raw[("Adj Close", "NVDA")] = raw[("Close", "NVDA")] * 0.5
    halved = split_download(raw, ["NVDA"], TZ)["NVDA"]
    np.testing.assert_allclose(halved[["open", "high", "low", "close"]], expected("NVDA").iloc[:, :4] * 0.5)


def test_tz_aware_index_takes_the_exchange_date():
    # ignore_tz=False converts every ticker to the most common tz: Seoul midnight 2025-01-31
    # is 2025-01-30 10:00 in New York; the session is still 2025-01-31 in Seoul.
    frame = yf_download_like({"005930.KS": history("005930.KS")})
    frame.index = history("005930.KS").index.tz_convert("America/New_York")
    bars = split_download(frame, ["005930.KS"], TZ)["005930.KS"]
    assert list(bars.index) == list(expected("005930.KS").index)


class Recorder:
    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.calls = []

    def __call__(self, symbols, start, end):
        self.calls.append((symbols, start, end))
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def source(tmp_path, downloader, **kw):
    sleeps = []
    return YahooSource(cache_dir=tmp_path, downloader=downloader, sleep=sleeps.append, **kw), sleeps


def test_retries_with_exponential_backoff_then_succeeds(tmp_path):
    good = yf_download_like({"NVDA": history("NVDA")})
    downloader = Recorder([ConnectionError("reset"), TimeoutError("slow"), good])
    src, sleeps = source(tmp_path, downloader, backoff=0.5)
    bars = src.load("NVDA")
    assert sleeps == [0.5, 1.0]  # 0.5 * 2**0, 0.5 * 2**1
    assert len(downloader.calls) == 3
    assert (tmp_path / "NVDA.parquet").is_file()
    pd.testing.assert_frame_equal(bars, expected("NVDA"), check_freq=False)


def test_failed_download_leaves_the_cache_untouched(tmp_path):
    good = yf_download_like({"NVDA": history("NVDA")})
    src, _ = source(tmp_path, Recorder([good]))
    src.fetch(["NVDA"])
    before = (tmp_path / "NVDA.parquet").read_bytes()

    failing = Recorder([ConnectionError("network is unreachable")])
    src, sleeps = source(tmp_path, failing, retries=3, backoff=1.0)
    with pytest.raises(DownloadError, match=r"NVDA failed after 4 attempt\(s\) .*network is unreachable"):
        src.fetch(["NVDA"])
    assert sleeps == [1.0, 2.0, 4.0]
    assert (tmp_path / "NVDA.parquet").read_bytes() == before

    # an empty answer (Yahoo knows nothing) is not data either
    src, _ = source(tmp_path, Recorder([yf_download_like({"NVDA": None})]))
    result = src.fetch(["NVDA"])
    assert isinstance(result.errors["NVDA"], UnknownSymbolError) and not result.bars
    assert (tmp_path / "NVDA.parquet").read_bytes() == before


def test_invalid_download_is_reported_and_not_cached(tmp_path):
    broken = history("NVDA")
    broken.iloc[2, broken.columns.get_loc("High")] = 1.0
    src, _ = source(tmp_path, Recorder([yf_download_like({"NVDA": broken})]))
    result = src.fetch(["NVDA"])
    assert "high 1 is below" in str(result.errors["NVDA"])
    assert not (tmp_path / "NVDA.parquet").exists()


def test_partial_failure_caches_the_good_symbol(tmp_path):
    frame = yf_download_like({"NVDA": history("NVDA"), "ZZZZ": None})
    src, _ = source(tmp_path, Recorder([frame]))
    result = src.fetch(["NVDA", "ZZZZ"])
    assert list(result.bars) == ["NVDA"] and list(result.errors) == ["ZZZZ"]
    assert "no data for 'ZZZZ'" in str(result.errors["ZZZZ"])
    assert src.symbols() == ["NVDA"]
    with pytest.raises(UnknownSymbolError, match=r"no data for 'ZZZZ'"):
        source(tmp_path, Recorder([yf_download_like({"ZZZZ": None})]))[0].load("ZZZZ")


def test_second_run_is_offline(tmp_path):
    src, _ = source(tmp_path, Recorder([yf_download_like({"NVDA": history("NVDA")})]))
    first = src.load("NVDA")
    offline, _ = source(tmp_path, Recorder([ConnectionError("offline")]))
    pd.testing.assert_frame_equal(offline.load("NVDA"), first)
    assert offline.downloader.calls == []


def test_non_network_errors_are_not_retried_and_name_the_symbol(tmp_path):
    downloader = Recorder([KeyError("bug")])
    src, sleeps = source(tmp_path, downloader)
    with pytest.raises(DownloadError, match=r"^yahoo: download of NVDA failed \(KeyError: 'bug'\); check"):
        src.fetch(["NVDA"])
    assert len(downloader.calls) == 1 and sleeps == []


def test_html_page_and_runtime_errors_are_retried_then_reported(tmp_path):
    good = yf_download_like({"NVDA": history("NVDA")})
    html = ValueError("Expecting value: line 1 column 1 (char 0)\n<html>...")
    downloader = Recorder([html, RuntimeError("crumb"), good])
    src, sleeps = source(tmp_path, downloader, backoff=1.0)
    assert len(src.load("NVDA")) == len(expected("NVDA"))
    assert sleeps == [1.0, 2.0]
    src, _ = source(tmp_path, Recorder([html] * 4), retries=3)
    with pytest.raises(DownloadError) as info:
        src.fetch(["MU"])
    assert str(info.value).count("\n") == 0 and "MU failed after 4 attempt(s) (ValueError: Expecting" in str(
        info.value)


def test_cache_write_failure_is_reported_and_other_symbols_go_on(tmp_path, monkeypatch):
    from backtest.sources import cache as cache_module

    real_writer = cache_module._write_file

    def writer(frame, path):
        if ".MU.parquet." in path.name:
            raise OSError(28, "No space left on device")
        real_writer(frame, path)

    monkeypatch.setattr(cache_module, "_write_file", writer)
    frame = yf_download_like({"MU": history("MU"), "NVDA": history("NVDA")})
    src, _ = source(tmp_path, Recorder([frame]))
    result = src.fetch(["MU", "NVDA"])
    assert list(result.bars) == ["NVDA"] and list(result.errors) == ["MU"]
    assert "cannot write the cache file of MU (no space left on device)" in str(result.errors["MU"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["NVDA.parquet"]


def test_dates_and_options(tmp_path):
    downloader = Recorder([yf_download_like({"NVDA": history("NVDA")})])
    src, _ = source(tmp_path, downloader, start="2025-01-22", end="2025-02-04")
    src.fetch(["NVDA"])
    assert downloader.calls == [(["NVDA"], "2025-01-22", "2025-02-05")]  # yfinance's end is exclusive
    # without dates: from DEFAULT_START (yfinance alone would fetch only one month) to the latest
    source(tmp_path, downloader)[0].fetch(["NVDA"])
    assert downloader.calls[-1] == (["NVDA"], "2015-01-01", None)
    with pytest.raises(ParameterError, match=r"--start '2025-13-01': not a date"):
        YahooSource(cache_dir=tmp_path, start="2025-13-01")
    with pytest.raises(ParameterError, match=r"--end 2024-01-01 is before --start 2025-01-01"):
        YahooSource(cache_dir=tmp_path, start="2025-01-01", end="2024-01-01")
    with pytest.raises(ParameterError, match=r"retries"):
        YahooSource(cache_dir=tmp_path, retries=-1)
    with pytest.raises(UnknownSymbolError, match=r"unknown exchange suffix '.XX'"):
        YahooSource(cache_dir=tmp_path, downloader=downloader).fetch(["NVDA.XX"])
    assert len(downloader.calls) == 2  # the bad suffix was caught before any download


def test_default_downloader_turns_logged_network_errors_into_retries(fake_yfinance, tmp_path):
    from yfinance.exceptions import YFPricesMissingError

    fake_yfinance.update(
        {
            "NVDA": history("NVDA"),
            "ZZZZ": YFPricesMissingError("ZZZZ", ""),
            "DOWN": ConnectionError("Failed to perform, curl: (6) Could not resolve host"),
        }
    )
    frame = yahoo.yfinance_download(["NVDA", "ZZZZ"], "2025-01-01", None)  # unknown ticker: no exception
    assert split_download(frame, ["NVDA", "ZZZZ"], TZ)["ZZZZ"] is None
    with pytest.raises(ConnectionError, match=r"Could not resolve host"):
        yahoo.yfinance_download(["DOWN"], "2025-01-01", None)
    src, sleeps = source(tmp_path, yahoo.yfinance_download, retries=2)
    with pytest.raises(DownloadError, match=r"after 3 attempt"):
        src.fetch(["DOWN"])
    assert sleeps == [1.0, 2.0]
