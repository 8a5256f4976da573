"""Parquet cache: location, atomic writes, refusal of empty data, clear errors on corrupt files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import backtest.sources.cache as cache_module
from backtest.errors import CacheError, DataError
from backtest.sources import get_source
from backtest.sources.cache import CACHE_ENV, PriceCache, default_cache_dir


@pytest.fixture(scope="module")
def nvda() -> pd.DataFrame:
    return get_source("snapshot").load("NVDA")


def test_default_dir_env_var_and_option(tmp_path, monkeypatch):
    monkeypatch.delenv(CACHE_ENV, raising=False)
    default = default_cache_dir()
    assert default.name == "prices" and "backtest" in default.parts
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert PriceCache().directory == tmp_path / "env"
    assert PriceCache(tmp_path / "opt").directory == tmp_path / "opt"  # option beats env


def test_round_trip_and_index_symbols(tmp_path, nvda):
    cache = PriceCache(tmp_path / "c")
    assert cache.symbols() == [] and cache.read("NVDA") is None
    path = cache.write("NVDA", nvda)
    assert path == tmp_path / "c" / "NVDA.parquet"
    pd.testing.assert_frame_equal(cache.read("NVDA"), nvda, check_freq=False)
    cache.write("^N225", get_source("snapshot").load("^N225"))
    assert (tmp_path / "c" / "_N225.parquet").is_file()
    assert cache.symbols() == ["NVDA", "^N225"]


def test_crash_in_the_middle_of_a_write_keeps_the_old_file_readable(tmp_path, nvda, monkeypatch):
    cache = PriceCache(tmp_path)
    cache.write("NVDA", nvda)
    before = cache.path("NVDA").read_bytes()

    real_writer = cache_module._write_file

    def crashing_writer(frame, path):
        # write a real parquet file, keep only its first half, then die like a full disk would
        real_writer(frame, path)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_module, "_write_file", crashing_writer)
    newer = nvda.iloc[:10] * 2
    with pytest.raises(CacheError, match=r"cannot write the cache file of NVDA \(no space left on device\)"):
        cache.write("NVDA", newer)
    assert cache.path("NVDA").read_bytes() == before
    pd.testing.assert_frame_equal(cache.read("NVDA"), nvda, check_freq=False)
    assert [p.name for p in tmp_path.iterdir()] == ["NVDA.parquet"]  # no temp file left behind


def test_empty_frame_never_overwrites(tmp_path, nvda):
    cache = PriceCache(tmp_path)
    cache.write("NVDA", nvda)
    before = cache.path("NVDA").read_bytes()
    with pytest.raises(DataError, match=r"refusing to cache an empty download of NVDA"):
        cache.write("NVDA", nvda.iloc[:0])
    assert cache.path("NVDA").read_bytes() == before


def test_invalid_bars_never_overwrite(tmp_path, nvda):
    cache = PriceCache(tmp_path)
    cache.write("NVDA", nvda)
    before = cache.path("NVDA").read_bytes()
    broken = nvda.copy()
    broken.iloc[3, broken.columns.get_loc("high")] = 1.0  # far below open/close (~48)
    with pytest.raises(DataError, match=r"2024-01-05: high 1 is below"):
        cache.write("NVDA", broken)
    assert cache.path("NVDA").read_bytes() == before


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_file_gives_a_clear_error(tmp_path, nvda, damage):
    cache = PriceCache(tmp_path)
    path = cache.write("NVDA", nvda)
    data = path.read_bytes()
    path.write_bytes(
        {"garbage": b"not a parquet file at all", "truncated": data[: len(data) // 2], "empty": b""}[damage]
    )
    with pytest.raises(CacheError) as info:
        cache.read("NVDA")
    message = str(info.value)
    assert message.startswith(f"{path}: corrupt cache file")
    assert "delete it and re-fetch with: backtest data fetch NVDA --source yahoo" in message
    assert "\n" not in message


def test_foreign_parquet_and_invalid_cached_bars(tmp_path, nvda):
    cache = PriceCache(tmp_path)
    pd.DataFrame({"x": [1.0]}).to_parquet(cache.path("NVDA"))
    with pytest.raises(CacheError, match=r"not a bars cache file .*delete it"):
        cache.read("NVDA")
    broken = nvda.copy()
    broken.iloc[0, 0] = np.nan
    broken.to_parquet(cache.path("NVDA"))  # written behind the cache's back
    with pytest.raises(CacheError, match=r"NVDA 2024-01-02: open is nan.*delete it"):
        cache.read("NVDA")


def test_cache_files_follow_the_umask(tmp_path, nvda):
    import os

    old = os.umask(0o022)
    try:
        path = PriceCache(tmp_path).write("NVDA", nvda)
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644  # 0666 & ~0022, not mkstemp's 0600


def test_unreadable_cache_file_is_a_permission_problem(tmp_path, nvda, monkeypatch):
    import os

    cache = PriceCache(tmp_path)
    cache.write("NVDA", nvda)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).endswith("NVDA.parquet") else
                        real_access(p, mode))  # as root, chmod 000 would still be readable
    with pytest.raises(CacheError, match=r"cannot read the cache file \(permission denied\); fix its perm"):
        cache.read("NVDA")


def test_cache_directory_that_is_a_file(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(CacheError, match=r"afile: the cache directory is a file; pass a directory"):
        PriceCache(afile)
