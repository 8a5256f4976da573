"""``results.json``: every table of a run and the settings used, in one JSON file read back equal.

Deterministic by construction: shortest round-trip floats (Python's ``repr``), sorted keys, rows
in the order the pipeline produced them, each on one line, and no "now" timestamps. Each table
keeps its column dtypes, so :func:`load_results` rebuilds frames equal to the ones written
(``pandas.testing.assert_frame_equal``). Missing floats are ``null``; infinities are the strings
``"inf"`` / ``"-inf"``; a column of Timestamps in several time zones is stored as ``[iso, tz]`` pairs.
A table's rows are written column by column (:func:`_column_json`), with the text a cell by cell
``json.dumps`` gives: a million-row table took minutes cell by cell.

>>> import pandas as pd
>>> frame = pd.DataFrame({"symbol": ["NVDA"], "car": [-0.1697]})
>>> doc = loads_results(dumps_results({"car": frame}, settings={"model": "market"}))
>>> doc.tables["car"].equals(frame), doc.settings
(True, {'model': 'market'})
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from backtest.errors import DataError

FORMAT_NAME = "backtest-results"
FORMAT_VERSION = 1
JSON_FILE = "results.json"


def _prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Flat, string-named columns and a plain 0..n-1 index (a meaningful index becomes columns)."""
    if not (isinstance(frame.index, pd.RangeIndex) and frame.index.start == 0 and frame.index.step == 1):
        has_names = any(name is not None for name in frame.index.names)
        frame = frame.reset_index(drop=not has_names)
    frame = frame.copy(deep=False)  # new column names, the same arrays (copy-on-write: pandas >= 3)
    frame.columns = [str(column) for column in frame.columns]
    return frame


def _column_kind(series: pd.Series) -> str:
    """How a column is stored in JSON: a pandas dtype string, or ``tuple`` / ``object``."""
    dtype = series.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return "str"
    if dtype == object:  # noqa: E721 - plain object columns
        values = [v for v in series.tolist() if type(v) is str or not _isnull(v)]
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


_INFINITY = {True: '"inf"', False: '"-inf"'}  # _encode_float's strings, as JSON


#: Rows of a table written to text at a time: the text of a million-row table is built a chunk
#: at a time, not from a million row strings and their cells at once.
ROWS_PER_CHUNK = 65_536


@dataclass
class _RowLines:
    """A table's rows, written by :func:`_dump_pieces` as compact JSON text, one row per line (the
    text ``json.dumps`` gives each :func:`encode_table` row), column by column a chunk at a time."""

    frame: pd.DataFrame
    kinds: list[str]

    def chunks(self, inner: str) -> Iterator[str]:
        """The rows' lines a chunk of rows at a time, each line indented by ``inner``, the lines
        of a chunk joined by ``",\\n"``; none without rows."""
        frame = self.frame
        if not len(frame.columns):
            return  # encode_table: no columns, no rows
        for start in range(0, len(frame), ROWS_PER_CHUNK):
            part = frame.iloc[start : start + ROWS_PER_CHUNK]
            cells = [_column_json(part[c], k) for c, k in zip(part.columns, self.kinds, strict=True)]
            yield ",\n".join(inner + "[" + ",".join(row) + "]" for row in zip(*cells, strict=True))


def _table_json(frame: pd.DataFrame) -> dict[str, object]:
    """:func:`encode_table` with the rows as :class:`_RowLines`: the same text once dumped."""
    frame = _prepare(frame)
    kinds = [_column_kind(frame[column]) for column in frame.columns]
    return {"columns": list(frame.columns), "dtypes": kinds, "rows": _RowLines(frame, kinds)}


def _column_json(series: pd.Series, kind: str) -> list[str]:
    """Each value of a column as the JSON text :func:`_compact` gives its :func:`_encode_column` value."""
    if kind.startswith("float"):
        text = float.__repr__  # what json writes for a finite float
        return ["null" if v != v else text(v) if -math.inf < v < math.inf else _INFINITY[v > 0]
                for v in series.tolist()]
    if kind.startswith(("int", "uint")):  # numpy integers: never missing
        return [str(int(v)) for v in series.tolist()]
    if kind == "bool":
        return ["true" if v else "false" for v in series.tolist()]
    if kind in ("str", "string"):
        quoted = json.encoder.encode_basestring  # what json writes for a str (ensure_ascii=False)
        return [quoted(v) if type(v) is str else "null" if v is pd.NA or _isnull(v) else quoted(str(v))
                for v in series.tolist()]
    if kind.startswith("datetime64[") and "," not in kind:  # tz-naive: isoformat() of whole seconds
        stamps = series.to_numpy()
        seconds = stamps.astype("datetime64[s]")
        known = ~np.isnat(stamps)
        if (seconds[known] == stamps[known]).all():
            text = np.datetime_as_string(seconds, unit="s").tolist()
            return ['"' + t + '"' if ok else "null" for t, ok in zip(text, known.tolist(), strict=True)]
    return [_compact(v) for v in _encode_column(series, kind)]


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
    """:func:`_dump_pieces` joined."""
    return "".join(_dump_pieces(value, indent))


def _dump_pieces(value: object, indent: int = 0) -> Iterator[str]:
    """JSON with sorted keys, as pieces of text made one after another (a million-row table's
    rows a chunk at a time); nested dicts indented, each table row on one line."""
    pad = " " * indent
    inner = " " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            yield "{}"
            return
        for i, key in enumerate(sorted(value, key=str)):
            yield f"{',' if i else '{'}\n{inner}{json.dumps(str(key), ensure_ascii=False)}: "
            yield from _dump_pieces(value[key], indent + 1)
        yield "\n" + pad + "}"
    elif isinstance(value, _RowLines):
        opened = False
        for chunk in value.chunks(inner):
            yield (",\n" if opened else "[\n") + chunk
            opened = True
        yield "\n" + pad + "]" if opened else "[]"
    elif isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        yield "[\n" + ",\n".join(inner + _compact(v) for v in value) + "\n" + pad + "]"
    else:
        yield _compact(value)


#: json.dumps(value, ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")),
#: built once (json.dumps builds an encoder on every call with these options)
_compact = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")).encode


@dataclass
class Results:
    """What :func:`load_results` reads back: tables, settings, provenance and warnings."""

    tables: dict[str, pd.DataFrame]
    settings: dict[str, object]
    provenance: dict[str, object] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def results_pieces(
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, object],
    provenance: Mapping[str, object] | None = None,
    warnings: list[str] | None = None,
) -> Iterator[str]:
    """:func:`dumps_results`' text as pieces made one after another: what the writer of
    ``--out`` takes, so that a large study's JSON is never whole in memory."""
    doc = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "settings": _encode_object(dict(settings)),
        "provenance": _encode_object(dict(provenance or {})),
        "warnings": [str(w) for w in warnings or []],
        "tables": {name: _table_json(frame) for name, frame in tables.items()},
    }
    yield from _dump_pieces(doc)
    yield "\n"


def dumps_results(
    tables: Mapping[str, pd.DataFrame],
    settings: Mapping[str, object],
    provenance: Mapping[str, object] | None = None,
    warnings: list[str] | None = None,
) -> str:
    """Serialise results and the settings used to a deterministic JSON text."""
    return "".join(results_pieces(tables, settings, provenance, warnings))


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
