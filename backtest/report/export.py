"""Files a run leaves behind: CSV, Parquet and Markdown per table, one JSON with everything.

Deterministic by construction: fixed float formatting in CSV (``%.10g``), rows in the order the
pipeline produced them, ``\\n`` line endings, UTF-8, and no "now" timestamps. The same inputs
therefore give byte-identical CSV and JSON files. The JSON file, ``results.json``, is its own
format: :mod:`backtest.report.results_file` (its names are importable from here too). Every file
is written through :func:`write_files`, as one set.

>>> import pandas as pd
>>> frame = pd.DataFrame({"symbol": ["NVDA"], "car": [-0.1697]})
>>> print(to_csv(frame), end="")
symbol,car
NVDA,-0.1697
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd

from backtest.report.output import OutputSet, open_output
from backtest.report.results_file import (  # noqa: F401 - results.json's names, importable from here
    FORMAT_NAME,
    FORMAT_VERSION,
    JSON_FILE,
    Results,
    _isnull,
    _prepare,
    decode_table,
    dumps_results,
    encode_table,
    load_results,
    loads_results,
    results_pieces,
)

CSV_FLOAT_FORMAT = "%.10g"

#: First characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(value: object) -> object:
    """A text cell a spreadsheet would run as a formula, prefixed with ``'`` (shown as text).

    Numbers written as text (``-0.05``) are left alone: they cannot run anything.

    >>> neutralize_formula("=cmd|' /C calc'!A0"), neutralize_formula("-0.05"), neutralize_formula("NVDA")
    ("'=cmd|' /C calc'!A0", '-0.05', 'NVDA')
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def _texts_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`_prepare`, and text columns as a spreadsheet may read them (:func:`_csv_texts`)."""
    frame = _prepare(frame)
    for column in frame.columns:
        series = frame[column]
        if series.dtype == object or isinstance(series.dtype, pd.StringDtype):
            frame[column] = pd.Series(_csv_texts(series), index=frame.index, dtype=object)
    return frame


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`_texts_ready`, and numpy float columns as CSV_FLOAT_FORMAT text (what pandas'
    ``float_format`` writes, without its per-cell calls: a million-row table took minutes)."""
    frame = _texts_ready(frame)
    for column in frame.columns:
        series = frame[column]
        if isinstance(series.dtype, np.dtype) and series.dtype.kind == "f":
            texts = ["" if v != v else CSV_FLOAT_FORMAT % v for v in series.tolist()]
            frame[column] = pd.Series(texts, index=frame.index, dtype=object)
    return frame


def _csv_texts(series: pd.Series) -> list[object] | np.ndarray:
    """A text column's cells: lists joined by spaces, formulas neutralized (:func:`neutralize_formula`)."""
    if isinstance(series.dtype, pd.StringDtype):  # only str or missing
        # each distinct text once, the cells pointing at it: a 10-million-row column of a few
        # thousand symbols was 10 million str objects (600 MB) as its list
        codes, distinct = pd.factorize(series)
        texts = [neutralize_formula(text) for text in distinct.tolist()] + [series.dtype.na_value]
        return np.array(texts, dtype=object)[codes]  # code -1 (missing): the last
    return [neutralize_formula(" ".join(str(v) for v in value) if isinstance(value, tuple | list) else value)
            for value in series.tolist()]


def to_csv(frame: pd.DataFrame) -> str:
    """Deterministic CSV text: no index, ``%.10g`` floats, ``\\n`` line ends (:func:`csv_pieces` joined)."""
    return "".join(csv_pieces(frame))


def csv_pieces(frame: pd.DataFrame) -> Iterator[str]:
    """:func:`to_csv`'s text a chunk of rows at a time, made as it is written (a million-row
    table's cells as text at once took gigabytes): whole chunks of pandas' own, so a column of
    dates is written as pandas writes it (dates alone where a chunk of its has no time of day).
    """
    from pandas.io.formats import csvs

    cells = getattr(csvs, "_DEFAULT_CHUNKSIZE_CELLS", 100_000)  # what pandas cuts its chunks by
    # 16 of them: a chunk of 133,000 rows of the abnormal-return table adds about 150 MB while it
    # is written (64: 480 MB, no faster)
    rows = max(1, cells // max(len(_prepare(frame.iloc[:0]).columns), 1)) * 16
    for start in range(0, max(len(frame), 1), rows):
        yield _csv_ready(frame.iloc[start : start + rows]).to_csv(
            index=False, header=start == 0, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")


#: What starts raw HTML in Markdown: "<" before a letter, "/", "!" or "?" (a tag, a comment).
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")


#: The characters a cell is changed for (most cells, numbers, have none).
_MD_SPECIAL = re.compile(r"[<\\|\n\r]")


def _md_cell(text: str) -> str:
    if not _MD_SPECIAL.search(text):
        return text
    # Markdown renders raw HTML: a name like "<img src=x onerror=...>" is shown as text, not run;
    # "p < 0.01" stays readable in the raw file.
    text = _HTML_START.sub("&lt;", text)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def to_markdown(
    formatted: pd.DataFrame, title: str = "", note: str = "", right: set[str] | None = None
) -> str:
    """A GitHub pipe table of already formatted cells (strings), with an optional title and note."""
    right = right or set()
    header = "| " + " | ".join(_md_cell(str(c)) for c in formatted.columns) + " |"
    rule = "|" + "|".join("---:" if c in right else "---" for c in formatted.columns) + "|"
    body = [
        "| " + " | ".join(_md_cell(str(v)) for v in row) + " |" for row in formatted.itertuples(index=False)
    ]
    parts = []
    if title:
        parts += [f"## {_md_cell(title)}", ""]
    parts += [header, rule, *body]
    if note:
        parts += ["", _md_cell(note)]
    return "\n".join(parts) + "\n"


def _parquet_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Columns parquet can hold: object columns of anything but text (tuples, tz-mixed times) as text."""
    frame = _texts_ready(frame)
    for column in frame.columns:
        if frame[column].dtype == object:
            values = frame[column].tolist()
            if not all(v is None or isinstance(v, str) for v in values):
                frame[column] = pd.Series([None if _isnull(v) else str(v) for v in values], dtype=object)
    return frame


def to_parquet(frame: pd.DataFrame) -> bytes:
    """Parquet bytes of a table (pyarrow; no index), what a notebook reads back with its dtypes."""
    import io

    buffer = io.BytesIO()
    write_parquet(frame, buffer)
    return buffer.getvalue()


def write_parquet(frame: pd.DataFrame, handle: BinaryIO) -> None:
    """:func:`to_parquet`'s bytes written to ``handle`` as pyarrow makes them (a large table's
    file is not held in memory, nor copied out of a buffer)."""
    _parquet_ready(frame).to_parquet(handle, engine="pyarrow", index=False)


#: File formats every command's ``--out`` writes per table (``results.json`` holds them all).
TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet")


def made_when_written(make: Callable[..., str | bytes], *args: Any) -> Iterator[str | bytes]:
    """``make(*args)`` as one piece, made when :func:`write_files` comes to it: a set of large
    files is made and written one file at a time.

    >>> pieces = made_when_written(str.upper, "made now")  # nothing made yet
    >>> next(pieces)
    'MADE NOW'
    """
    yield make(*args)


#: A file's content for :func:`write_files`: its text, its bytes, pieces of either made and
#: written one after another (a large table's CSV and JSON are never whole in memory), or a
#: function that writes the file to the binary handle it is given (a table's Parquet).
Content = str | bytes | Iterable[str] | Iterable[bytes] | Callable[[BinaryIO], None]


def table_files(
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, object],
    provenance: Mapping[str, object] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, Content]:
    """The files of a set of result tables: ``<name>.csv`` and ``<name>.parquet`` each, and
    ``results.json``, as pieces made while :func:`write_files` writes them.

    >>> sorted(table_files({"car": pd.DataFrame({"car": [-0.1]})}, {"model": "market"}))
    ['car.csv', 'car.parquet', 'results.json']
    """
    files: dict[str, Content] = {}
    for name, frame in tables.items():
        files[f"{name}.csv"] = csv_pieces(frame)
        files[f"{name}.parquet"] = functools.partial(write_parquet, frame)
    files[JSON_FILE] = results_pieces(tables, settings, provenance, warnings)
    return files


def write_files(out_dir: str | Path | OutputSet, files: Mapping[str, Content]) -> list[Path]:
    """Write one set of output files into ``out_dir``: the one writer of every command's ``--out``.

    ``files`` maps a name inside ``out_dir`` to its :data:`Content`: text (UTF-8, ``\\n`` line
    ends), bytes, pieces of either written as they are made, or a function that writes the file
    to a binary handle. ``out_dir`` is an :class:`~backtest.report.output.OutputSet` opened
    before the work (the CLI opens one for every ``--out``; its files are swapped in when the
    command succeeds), or a path, opened, written and swapped in here. Either way the set lands
    whole or not at all. Returns the final paths, in the order given.
    """
    if not isinstance(out_dir, OutputSet):
        with open_output(out_dir) as out:
            return write_files(out, files)
    written = []
    for name, content in files.items():
        if isinstance(content, str):
            written.append(out_dir.write_text(name, content))
        elif isinstance(content, bytes):
            written.append(out_dir.write_bytes(name, content))
        elif callable(content):
            written.append(out_dir.write_with(name, content))
        else:
            written.append(out_dir.write_pieces(name, content))
    return written
