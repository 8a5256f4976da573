"""Files a run leaves behind: CSV and Markdown per table, one JSON with everything.

Deterministic by construction: fixed float formatting in CSV (``%.10g``), shortest
round-trip floats in JSON (Python's ``repr``), sorted keys, rows in the order the
pipeline produced them, ``\\n`` line endings, UTF-8, and no "now" timestamps. The same
inputs therefore give byte-identical CSV and JSON files.

The JSON keeps each table's column dtypes, so :func:`load_results` rebuilds frames
equal to the ones written (``pandas.testing.assert_frame_equal``). Missing floats are
``null``; infinities are the strings ``"inf"`` / ``"-inf"``; a column of Timestamps in
several time zones is stored as ``[iso, tz]`` pairs.

>>> import pandas as pd
>>> frame = pd.DataFrame({"symbol": ["NVDA"], "car": [-0.1697]})
>>> print(to_csv(frame), end="")
symbol,car
NVDA,-0.1697
>>> doc = loads_results(dumps_results({"car": frame}, settings={"model": "market"}))
>>> doc.tables["car"].equals(frame), doc.settings
(True, {'model': 'market'})
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import DataError
from backtest.report.output import OutputSet, open_output

FORMAT_NAME = "backtest-results"
FORMAT_VERSION = 1
CSV_FLOAT_FORMAT = "%.10g"
JSON_FILE = "results.json"


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Flat, string-named columns and a plain 0..n-1 index (a meaningful index becomes columns)."""
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1):
        has_names = any(name is not None for name in frame.index.names)
        frame = frame.reset_index(drop=not has_names)
    frame = frame.copy()
    frame.columns = [str(column) for column in frame.columns]
    return frame


def _column_kind(series: pd.Series) -> str:
    """How a column is stored in JSON: a pandas dtype string, or ``tuple`` / ``object``."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "str"
    if dtype == object:  # noqa: E721 - plain object columns
        values = [v for v in series.tolist() if not _isnull(v)]
        if values and all(isinstance(v, tuple) for v in values):
            return "tuple"
        if values and all(isinstance(v, pd.Timestamp) for v in values):
            return "timestamps"  # e.g. local times of several time zones in one column
        if values and all(isinstance(v, str) for v in values):
            return "str"
        return "object"
    return str(dtype)


def _isnull(value: object) -> bool:
    if value is None or value is pd.NaT:
        return True
    if isinstance(value, float | np.floating):
        return math.isnan(value)
    return False


def _encode_float(value: object) -> object:
    if _isnull(value):
        return None
    number = float(value)
    if math.isinf(number):
        return "inf" if number > 0 else "-inf"
    return number


def _encode_object(value: object) -> object:
    if _isnull(value):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return _encode_float(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_encode_object(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _encode_object(v) for k, v in value.items()}
    return str(value)


def _encode_timestamp(value: object) -> object:
    if _isnull(value):
        return None
    stamp = pd.Timestamp(value)
    return [stamp.isoformat(), None if stamp.tzinfo is None else str(stamp.tzinfo)]


def _decode_timestamp(value: object) -> object:
    if value is None:
        return pd.NaT
    text, tz = value
    stamp = pd.Timestamp(text)
    return stamp if tz is None else stamp.tz_convert(tz)


def _encode_column(series: pd.Series, kind: str) -> list[object]:
    values = series.tolist()
    if kind == "timestamps":
        return [_encode_timestamp(v) for v in values]
    if kind.startswith("float"):
        return [_encode_float(v) for v in values]
    if kind.startswith(("datetime64", "timedelta64")):
        return [None if _isnull(v) else v.isoformat() for v in values]
    if kind.startswith(("int", "uint", "Int", "UInt")):
        return [None if _isnull(v) or v is pd.NA else int(v) for v in values]
    if kind in ("bool", "boolean"):
        return [None if v is pd.NA or _isnull(v) else bool(v) for v in values]
    if kind in ("str", "string"):
        return [None if v is pd.NA or _isnull(v) else str(v) for v in values]
    return [_encode_object(v) for v in values]


def _decode_column(values: list[object], kind: str) -> pd.Series:
    if kind.startswith("float"):
        numbers = [np.nan if v is None else float(v) for v in values]
        return pd.Series(numbers, dtype=kind)
    if kind.startswith("datetime64"):
        tz = kind[kind.index(",") + 1 : -1].strip() if "," in kind else None
        if tz is None:
            return pd.Series(pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601")).astype(kind)
        stamps = pd.to_datetime(pd.Series(values, dtype=object), format="ISO8601", utc=True)
        return stamps.dt.tz_convert(tz).astype(kind)
    if kind.startswith("timedelta64"):
        return pd.Series(pd.to_timedelta(pd.Series(values, dtype=object))).astype(kind)
    if kind == "tuple":
        return pd.Series([None if v is None else tuple(v) for v in values], dtype=object)
    if kind == "timestamps":
        return pd.Series([_decode_timestamp(v) for v in values], dtype=object)
    if kind == "object":
        return pd.Series(values, dtype=object)
    return pd.Series(values, dtype=object).astype(kind)


def encode_table(frame: pd.DataFrame) -> dict[str, object]:
    """A frame as ``{"columns", "dtypes", "rows"}`` of JSON-native values."""
    frame = _prepare(frame)
    kinds = [_column_kind(frame[column]) for column in frame.columns]
    columns = [_encode_column(frame[c], k) for c, k in zip(frame.columns, kinds, strict=True)]
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return {"columns": list(frame.columns), "dtypes": kinds, "rows": rows}


def decode_table(doc: Mapping[str, object]) -> pd.DataFrame:
    """Inverse of :func:`encode_table`."""
    columns = list(doc["columns"])
    kinds = list(doc["dtypes"])
    rows = list(doc["rows"])
    data = {
        column: _decode_column([row[i] for row in rows], kind)
        for i, (column, kind) in enumerate(zip(columns, kinds, strict=True))
    }
    return pd.DataFrame(data, columns=columns, index=pd.RangeIndex(len(rows)))


def _dump(value: object, indent: int = 0) -> str:
    """JSON with sorted keys; nested dicts indented, each table row on one line."""
    pad = " " * indent
    inner = " " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [
            f"{inner}{json.dumps(str(k), ensure_ascii=False)}: {_dump(value[k], indent + 1)}"
            for k in sorted(value, key=str)
        ]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        items = [inner + _compact(v) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return _compact(value)


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"))


@dataclass
class Results:
    """What :func:`load_results` reads back: tables, settings, provenance and warnings."""

    tables: dict[str, pd.DataFrame]
    settings: dict[str, object]
    provenance: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def dumps_results(
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, object],
    provenance: Mapping[str, object] | None = None,
    warnings: list[str] | None = None,
) -> str:
    """Serialise results and the settings used to a deterministic JSON text."""
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "settings": _encode_object(dict(settings)),
        "provenance": _encode_object(dict(provenance or {})),
        "warnings": [str(w) for w in warnings or []],
        "tables": {name: encode_table(frame) for name, frame in tables.items()},
    }
    return _dump(doc) + "\n"


def loads_results(text: str, source: str = "<json>") -> Results:
    """Parse a JSON text written by :func:`dumps_results`."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{source}:{exc.lineno}: not valid JSON ({exc.msg}); rerun 'backtest run'") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT_NAME:
        raise DataError(f'{source}: not a backtest results file (missing "format": "{FORMAT_NAME}")')
    if doc.get("format_version") != FORMAT_VERSION:
        raise DataError(
            f"{source}: results format version {doc.get('format_version')!r}, this version reads "
            f"{FORMAT_VERSION}; rerun 'backtest run' with this version"
        )
    tables = {name: decode_table(table) for name, table in doc["tables"].items()}
    return Results(tables, doc["settings"], doc.get("provenance", {}), doc.get("warnings", []))


def load_results(path: str | Path) -> Results:
    """Read ``results.json`` back into frames equal to the ones written."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DataError(f"{path}: cannot read results ({exc.strerror}); check the path") from exc
    return loads_results(text, str(path))


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


def _csv_ready(frame: pd.DataFrame) -> pd.DataFrame:
    frame = _prepare(frame)
    for column in frame.columns:
        if frame[column].dtype == object or isinstance(frame[column].dtype, pd.StringDtype):
            frame[column] = pd.Series(
                [
                    neutralize_formula(" ".join(str(v) for v in value) if isinstance(value, tuple | list)
                                       else value)
                    for value in frame[column].tolist()
                ],
                index=frame.index,
                dtype=object,
            )
    return frame


def to_csv(frame: pd.DataFrame) -> str:
    """Deterministic CSV text: no index, ``%.10g`` floats, ``\\n`` line ends."""
    return _csv_ready(frame).to_csv(index=False, float_format=CSV_FLOAT_FORMAT, lineterminator="\n")


#: What starts raw HTML in Markdown: "<" before a letter, "/", "!" or "?" (a tag, a comment).
_HTML_START = re.compile(r"<(?=[A-Za-z/!?])")


def _md_cell(text: str) -> str:
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
    frame = _csv_ready(frame)
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
    _parquet_ready(frame).to_parquet(buffer, engine="pyarrow", index=False)
    return buffer.getvalue()


#: File formats every command's ``--out`` writes per table (``results.json`` holds them all).
TABLE_FORMATS: tuple[str, ...] = ("csv", "parquet")


def table_files(
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, object],
    provenance: Mapping[str, object] | None = None,
    warnings: list[str] | None = None,
) -> dict[str, str | bytes]:
    """The files of a set of result tables: ``<name>.csv`` and ``<name>.parquet`` each, and ``results.json``.

    >>> sorted(table_files({"car": pd.DataFrame({"car": [-0.1]})}, {"model": "market"}))
    ['car.csv', 'car.parquet', 'results.json']
    """
    files: dict[str, str | bytes] = {}
    for name, frame in tables.items():
        files[f"{name}.csv"] = to_csv(frame)
        files[f"{name}.parquet"] = to_parquet(frame)
    files[JSON_FILE] = dumps_results(tables, settings, provenance, warnings)
    return files


def write_files(out_dir: str | Path | OutputSet, files: Mapping[str, str | bytes]) -> list[Path]:
    """Write one set of output files into ``out_dir``: the one writer of every command's ``--out``.

    ``files`` maps a name inside ``out_dir`` to its text (UTF-8, ``\\n`` line ends) or bytes.
    ``out_dir`` is an :class:`~backtest.report.output.OutputSet` opened before the work (the
    CLI opens one for every ``--out``; its files are swapped in when the command succeeds),
    or a path, opened, written and swapped in here. Either way the set lands whole or not
    at all. Returns the final paths, in the order given.
    """
    if not isinstance(out_dir, OutputSet):
        with open_output(out_dir) as out:
            return write_files(out, files)
    write = {bytes: out_dir.write_bytes, str: out_dir.write_text}
    return [write[type(content)](name, content) for name, content in files.items()]
