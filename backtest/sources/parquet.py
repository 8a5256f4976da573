"""A partitioned Parquet dataset of daily bars (``--source parquet --path DIR``).

Layout (hive partitioning, one partition per symbol, the symbol percent-encoded
the way pyarrow writes it, so ``^N225`` is ``symbol=%5EN225``)::

    DIR/symbol=NVDA/part-0.parquet
    DIR/symbol=000660.KS/part-0.parquet
    DIR/symbol=%5EN225/part-0.parquet

Each file holds the columns ``date, open, high, low, close, volume`` (adjusted
bars, as every source returns them). ``DIR`` is a local directory or any fsspec
URL (``s3://bucket/prices``, ``gs://...``, ``memory://...``): a worker of a Dask
cluster opens the source itself and reads only the partitions of the symbols its
unit of work needs, so the client never ships the price panel.

``pyarrow.dataset.dataset(DIR, partitioning="hive")`` and Dask's
``dd.read_parquet(DIR)`` read the same directory as one table with a ``symbol``
column.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from urllib.parse import quote, unquote

import pandas as pd

from backtest.errors import DataError, ParameterError, UnknownSymbolError, did_you_mean, where
from backtest.sources import BAR_COLUMNS
from backtest.validate import check_calendar, validate_bars

PARTITION = "symbol="
PART_FILE = "part-0.parquet"


def partition_name(symbol: str) -> str:
    """Hive directory name of ``symbol``, percent-encoded like pyarrow's writer.

    >>> partition_name("NVDA"), partition_name("^N225")
    ('symbol=NVDA', 'symbol=%5EN225')
    """
    return PARTITION + quote(symbol, safe="")


def _filesystem(path: str | Path):
    """``(fsspec filesystem, root path inside it)`` for a local path or an fsspec URL."""
    import fsspec

    text = str(path)
    if "://" not in text:
        text = str(Path(text).expanduser().absolute())
    fs, root = fsspec.core.url_to_fs(text)
    return fs, root.rstrip("/")


#: Partitions one process keeps after reading them (see :meth:`ParquetSource.load`).
CACHE_PARTITIONS = 32
_READ: OrderedDict[tuple[str, str, tuple], tuple[pd.DataFrame, list[tuple[type, str]]]] = OrderedDict()


def _data_files(fs, folder: str) -> list[dict] | None:
    """The partition's data files (names pyarrow reads: not starting with ``.`` or ``_``), or
    None when it holds sub-directories (then only a dataset read is right)."""
    files = []
    for info in fs.ls(folder, detail=True):
        if info.get("type") == "directory":
            return None
        if not str(info["name"]).rstrip("/").rsplit("/", 1)[-1].startswith((".", "_")):
            files.append(info)
    return files


def _stamp(files: list[dict] | None) -> tuple | None:
    """Names, sizes and modification times of a partition's files (None: the store gives no time)."""
    if not files:
        return None
    stamps = []
    for info in files:
        changed = next((info[k] for k in ("mtime", "LastModified", "ETag", "created") if info.get(k)), None)
        if changed is None:
            return None
        stamps.append((str(info["name"]), info.get("size"), str(changed)))
    return tuple(sorted(stamps))


class ParquetSource:
    """Bars from a hive-partitioned Parquet dataset, one partition per symbol.

    Parameters
    ----------
    path : str or Path
        Local directory or fsspec URL of the dataset.

    Raises
    ------
    ParameterError
        When no ``path`` is given.
    DataError
        When ``path`` is not a directory holding ``symbol=...`` partitions.

    Example
    -------
    >>> import tempfile
    >>> from backtest.sources import load_prices
    >>> target = write_dataset(load_prices(["NVDA"]), tempfile.mkdtemp() + "/prices")
    >>> ParquetSource(target).load("NVDA").loc["2025-01-27", "close"].round(2)
    np.float64(118.11)
    """

    name = "parquet"

    def __init__(self, path: str | Path | None = None) -> None:
        if path is None:
            raise ParameterError("--source parquet needs --path DIR (a dataset from: backtest data export)")
        self.path = str(path)
        self._location: str | None = None  # set where it was unpickled (a worker): see _shipped
        self.fs, self.root = _filesystem(path)
        if not self.fs.isdir(self.root):
            raise DataError(f"{self.path}: parquet dataset not found; "
                            f"write one with: backtest data export --to {self.path}")

    @property
    def directory(self) -> str:
        """Where the dataset lives (shown by ``backtest data list``)."""
        return self.path

    def __reduce__(self):
        # The location travels, not an open filesystem handle: a local path as the absolute path
        # it is here (a worker's working directory differs). Opened on the worker without the
        # check above: an error while a task is unpickled breaks the worker, and the run hung.
        from fsspec.implementations.local import LocalFileSystem

        location = self.root if isinstance(self.fs, LocalFileSystem) else self.path
        return (_shipped, (self.path, location))

    def symbols(self) -> list[str]:
        """Symbols with a partition, sorted."""
        names = (entry.rstrip("/").rsplit("/", 1)[-1] for entry in self.fs.ls(self.root, detail=False))
        return sorted(unquote(n[len(PARTITION):]) for n in names if n.startswith(PARTITION))

    def load(self, symbol: str) -> pd.DataFrame:
        """Validated bars of ``symbol``, read from its partition only.

        The last :data:`CACHE_PARTITIONS` partitions a process read stay in memory, keyed
        on the dataset, the symbol and the partition files' names, sizes and modification
        times: a worker that gets the same benchmark in every unit reads and validates it
        once, and a rewritten partition is read again. A hit gives a copy and repeats the
        warnings the read raised, so the caller sees what a fresh read shows.
        """
        folder = f"{self.root}/{partition_name(symbol)}"
        if not self.fs.isdir(folder):
            if self._location is not None and not self.fs.isdir(self.root):  # on a worker
                raise DataError(
                    f"{self.path}: parquet dataset not found at {self._location} on the worker that "
                    f"ran this unit ({_host()}); every worker must read it at the same location: "
                    "a filesystem mounted on every machine, or object storage (s3://, gs://, ...)"
                )
            known = self.symbols()
            raise UnknownSymbolError(
                f"symbol {symbol!r} has no partition in {self.path}{did_you_mean(symbol, known)}; "
                f"add it with: backtest data export {symbol} --to {self.path}"
            )
        files = _data_files(self.fs, folder)
        stamp = _stamp(files)
        key = (self.path, symbol, stamp)
        if stamp is not None and key in _READ:
            _READ.move_to_end(key)
            bars, caught = _READ[key]
            for category, message in caught:
                warnings.warn(message, category, stacklevel=2)
            return bars.copy()
        with warnings.catch_warnings(record=True) as records:
            warnings.simplefilter("always")
            bars = self._read(symbol, folder, files)
        caught = [(w.category, str(w.message)) for w in records]
        for category, message in caught:
            warnings.warn(message, category, stacklevel=2)
        if stamp is not None:
            _READ[key] = (bars.copy(), caught)
            while len(_READ) > CACHE_PARTITIONS:
                _READ.popitem(last=False)
        return bars

    def _read(self, symbol: str, folder: str, files: list[dict] | None) -> pd.DataFrame:
        """Read and validate one partition (no cache)."""
        import pyarrow.parquet as pq
        from fsspec.implementations.local import LocalFileSystem

        origin = f"{self.path}/{partition_name(symbol)}"
        try:
            if files is not None and len(files) == 1:
                # the usual partition, one file: read as a file, a dataset's discovery and
                # thread pool cost more than a few thousand rows
                path = str(files[0]["name"])
                if isinstance(self.fs, LocalFileSystem):
                    table = pq.ParquetFile(path).read(use_threads=False)
                else:
                    with self.fs.open(path, "rb") as handle:  # closed after the read (remote stores)
                        table = pq.ParquetFile(handle).read(use_threads=False)
            else:
                table = pq.read_table(folder, filesystem=self.fs)
        except Exception as exc:  # pyarrow raises ArrowInvalid, OSError, ... for damaged files
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{where(origin)} unreadable parquet ({reason}); re-export the symbol") from None
        missing = [c for c in ("date", *BAR_COLUMNS) if c not in table.column_names]
        if missing:
            raise DataError(f"{where(origin)} missing column(s) {', '.join(missing)}; "
                            f"expected date,{','.join(BAR_COLUMNS)}")
        # column by column: a worker reads thousands of partitions, the whole-table
        # conversion and the frame's reindexing cost more than the read itself
        index = pd.DatetimeIndex(table.column("date").to_pandas(), name="date").as_unit("us")
        bars = pd.DataFrame({c: table.column(c).to_pandas().to_numpy(dtype=float) for c in BAR_COLUMNS},
                            index=index)
        if not index.is_monotonic_increasing:
            bars = bars.sort_index()
        bars = validate_bars(bars, symbol, origin)
        check_calendar(bars, symbol, origin)
        return bars


def _shipped(path: str, location: str) -> ParquetSource:
    """A :class:`ParquetSource` unpickled on a worker: ``location`` opened, ``path`` (what the user
    gave) kept for messages, and no check here; :meth:`~ParquetSource.load` says if it is missing."""
    source = ParquetSource.__new__(ParquetSource)
    source.path, source._location = path, location
    source.fs, source.root = _filesystem(location)
    return source


def _host() -> str:
    import socket

    return socket.gethostname()


def _bars_table(target: object, symbol: str, bars: pd.DataFrame):
    """The arrow table of one partition, after the bars pass validation."""
    import pyarrow as pa

    if bars is None or len(bars) == 0:
        raise DataError(f"{target}: refusing to write an empty series for {symbol}; kept the old partition")
    validate_bars(bars, symbol, f"bars of {symbol}")
    frame = bars[list(BAR_COLUMNS)].astype(float).reset_index()
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[us]")
    return pa.Table.from_pandas(frame, preserve_index=False)


def write_partition(target: str | Path, symbol: str, bars: pd.DataFrame) -> str:
    """Write (replace) one symbol's partition of the dataset at ``target``; return its path.

    Locally the file is written beside its final name and renamed into place, so a
    reader never sees half a file; on an object store each file is one atomic put.
    """
    import pyarrow.parquet as pq

    table = _bars_table(target, symbol, bars)
    fs, root = _filesystem(target)
    folder = f"{root}/{partition_name(symbol)}"
    fs.makedirs(folder, exist_ok=True)
    final = f"{folder}/{PART_FILE}"
    from fsspec.implementations.local import LocalFileSystem

    if isinstance(fs, LocalFileSystem):
        temp = f"{folder}/.{PART_FILE}.{uuid.uuid4().hex}.tmp"
        try:
            pq.write_table(table, temp)
            os.replace(temp, final)
        finally:
            Path(temp).unlink(missing_ok=True)
    else:
        with fs.open(final, "wb") as handle:
            pq.write_table(table, handle)
    return final


def write_dataset(
    prices: Mapping[str, pd.DataFrame] | Iterable[tuple[str, pd.DataFrame]],
    target: str | Path,
    *,
    option: str = "--to",
) -> str:
    """Write ``{symbol: bars}`` (or ``(symbol, bars)`` pairs, streamed) as a dataset at ``target``.

    Returns ``target``. A local target lands as one set through the one output writer
    (:func:`backtest.report.output.open_output`: staging directory beside it, lock, swap), so
    a failure leaves the previous dataset whole; its marker file is hidden from dataset
    readers (pyarrow skips names starting with ``.``). An fsspec URL gets one put per partition.

    Raises
    ------
    OutputError
        When ``target`` cannot be written or holds something other than a previous set.
    """
    import pyarrow.parquet as pq

    from backtest.report.output import open_output

    items = prices.items() if isinstance(prices, Mapping) else prices
    text = str(target)
    if "://" in text and not text.startswith("file://"):
        for symbol, bars in items:
            write_partition(text, symbol, bars)
        return text
    with open_output(Path(text.removeprefix("file://")).expanduser(), option) as out:
        for symbol, bars in items:
            pq.write_table(_bars_table(text, symbol, bars), out.path(f"{partition_name(symbol)}/{PART_FILE}"))
    return text


def export_symbols(source, symbols: Iterable[str] | None = None) -> Iterable[tuple[str, pd.DataFrame]]:
    """``(symbol, bars)`` of every symbol ``source`` holds (or of ``symbols``), loaded one at a time."""
    wanted = list(dict.fromkeys(symbols)) if symbols else source.symbols()
    return ((symbol, source.load(symbol)) for symbol in wanted)
