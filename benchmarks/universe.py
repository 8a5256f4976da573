"""A synthetic universe to measure scale without downloading anything.

``python benchmarks/universe.py DIR --symbols 2000 --years 10 --events 200`` writes

* ``DIR/prices/``: a partitioned Parquet dataset (``--source parquet --path DIR/prices``) of
  adjusted daily bars for ``--symbols`` stocks on three exchanges (60 % US, 25 % KRX, 15 %
  Tokyo, each on its own pandas-market-calendars sessions) and their benchmarks SPY, ^KS11,
  ^N225;
* ``DIR/events.csv``: ``--events`` market-wide events (shocks and reliefs) spread over the
  last ``years - 1`` years, so that every pair has a full estimation window when listed.

Returns are realistic enough to stress every code path: a market factor per exchange
(Student-t with 4 degrees of freedom: fat tails, 1 % daily scale), ten sectors with their
own factor, a beta per stock in [0.5, 1.8], idiosyncratic t(4) noise, an event-day shock;
20 % of the stocks list after the start and 10 % delist before the end; 0.2 % of the
sessions are missing (halts). Same seed, same bytes.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.sources.parquet import write_dataset
from backtest.validate import library_sessions

EXCHANGES = (("", "NASDAQ", "SPY", 0.60), (".KS", "XKRX", "^KS11", 0.25), (".T", "JPX", "^N225", 0.15))
N_SECTORS = 10


def _t(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Student-t(4) draws rescaled to standard deviation ``scale`` (var of t(4) is 2)."""
    return rng.standard_t(4, shape) * scale / np.sqrt(2.0)


def _bars(close: np.ndarray, dates: pd.DatetimeIndex, rng: np.random.Generator) -> pd.DataFrame:
    """Open/high/low around the close path, positive volume; NaN closes dropped (missing days)."""
    filled = pd.Series(close).ffill().bfill().to_numpy()
    prev = np.concatenate([[filled[0]], filled[:-1]])
    opening = prev * (1 + rng.normal(0, 0.003, len(close)))
    high = np.maximum(opening, close) * (1 + np.abs(rng.normal(0, 0.004, len(close))))
    low = np.minimum(opening, close) * (1 - np.abs(rng.normal(0, 0.004, len(close))))
    frame = pd.DataFrame({"open": opening, "high": high, "low": low, "close": close,
                          "volume": rng.integers(10_000, 5_000_000, len(close)).astype(float)},
                         index=pd.DatetimeIndex(dates, name="date"))
    return frame[np.isfinite(close)]


def universe(n_symbols: int, years: int, seed: int = 0, end: str = "2025-12-31"
             ) -> tuple[Iterator[tuple[str, pd.DataFrame]], list[str]]:
    """``((symbol, bars) generator, stock symbols)``: benchmarks first, then the stocks."""
    rng = np.random.default_rng(seed)
    last = pd.Timestamp(end)
    first = last - pd.DateOffset(years=years) + pd.Timedelta(days=1)
    counts = [round(share * n_symbols) for *_, share in EXCHANGES]
    counts[0] += n_symbols - sum(counts)
    symbols = [f"S{i:05d}{suffix}" for (suffix, *_), count in zip(EXCHANGES, counts, strict=True)
               for i in range(count)]

    def generate() -> Iterator[tuple[str, pd.DataFrame]]:
        k = 0
        for (_, calendar, bench, _), count in zip(EXCHANGES, counts, strict=True):
            sessions = library_sessions(calendar)
            dates = sessions[(sessions >= first) & (sessions <= last)]
            n = len(dates)
            market = _t(rng, (n,), 0.01) + 0.0003
            sectors = _t(rng, (N_SECTORS, n), 0.006)
            yield bench, _bars(1000 * np.cumprod(1 + market), dates, rng)
            for _ in range(count):
                beta = rng.uniform(0.5, 1.8)
                r = beta * market + sectors[rng.integers(N_SECTORS)] + _t(rng, (n,), 0.015)
                close = 50 * np.cumprod(1 + np.clip(r, -0.5, 1.0))
                if rng.random() < 0.20:  # listed after the start
                    close[: rng.integers(1, n // 2)] = np.nan
                if rng.random() < 0.10:  # delisted before the end
                    close[rng.integers(n // 2, n - 1):] = np.nan
                close[rng.random(n) < 0.002] = np.nan  # halts
                if np.isfinite(close).sum() < 2:
                    close[-2:] = 50.0
                yield symbols[k], _bars(close, dates, rng)
                k += 1

    return generate(), symbols


def events(n_events: int, years: int, seed: int = 0, end: str = "2025-12-31") -> pd.DataFrame:
    """``n_events`` market-wide events at 16:30 New York time, after one year of history."""
    rng = np.random.default_rng(seed + 1)
    last = pd.Timestamp(end) - pd.Timedelta(days=60)
    first = pd.Timestamp(end) - pd.DateOffset(years=years - 1)
    days = pd.bdate_range(first, last)
    picked = np.sort(rng.choice(len(days), size=n_events, replace=False))
    return pd.DataFrame({
        "event_id": [f"ev{i:04d}" for i in range(n_events)],
        "name": [f"synthetic event {i}" for i in range(n_events)],
        "announced_at": [f"{d:%Y-%m-%d}T16:30:00-05:00" for d in days[picked]],
        "timezone": "America/New_York",
        "kind": np.where(rng.random(n_events) < 0.8, "shock", "relief"),
        "description": "", "source": "", "symbols": "",
    })


def write(target: str | Path, n_symbols: int, years: int, n_events: int, seed: int = 0) -> list[str]:
    """Write ``target/prices`` and ``target/events.csv``; return the stock symbols."""
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    bars, symbols = universe(n_symbols, years, seed)
    write_dataset(bars, target / "prices")
    events(n_events, years, seed).to_csv(target / "events.csv", index=False)
    return symbols


def stock_symbols(prices: str | Path) -> list[str]:
    """The stocks of a written universe (its benchmarks left out), sorted."""
    names = (p.name.removeprefix("symbol=") for p in Path(prices).iterdir())
    return sorted(n for n in names if re.fullmatch(r"S\d{5}(\.KS|\.T)?", n))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", help="directory to write prices/ and events.csv into")
    parser.add_argument("--symbols", type=int, default=2000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    symbols = write(args.target, args.symbols, args.years, args.events, args.seed)
    print(f"wrote {len(symbols)} stocks + 3 benchmarks and {args.events} events to {args.target}",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
