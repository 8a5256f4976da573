"""Files of the return tables: tidy CSVs, one Excel workbook, one LaTeX file.

:func:`return_table_files` gives every file as ``{name: text or bytes}`` so that the
caller writes them with :func:`backtest.report.export.write_files` (``backtest run`` next to
its CSVs, ``backtest tables`` wherever ``--out`` says).

The workbook (openpyxl, through ``pandas.ExcelWriter``) has one sheet a table: the
scoreboard, the pivots of raw, excess and abnormal returns (symbols in rows, one column
per event x window) and the tidy tables; fractions carry the ``0.00%`` number format
(Excel shows ``-16.97%``, the cell holds ``-0.1697``), and the header row (and the
symbol column of the pivots) is frozen.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable

import pandas as pd

from backtest.report.export import to_csv
from backtest.report.tables import guess_kind
from backtest.return_tables.display import pivot
from backtest.return_tables.latex import latex_document_body
from backtest.return_tables.result import ReturnTables

WORKBOOK_FILE = "return_tables.xlsx"
LATEX_FILE = "return_tables.tex"
PERCENT_FORMAT = "0.00%"


def flat_pivot(tables: ReturnTables, name: str) -> pd.DataFrame:
    """A pivot with flat columns for a sheet: symbol, name, then ``"<event_id> <window>"``."""
    wide = pivot(tables, name)
    out = pd.DataFrame({"symbol": list(wide.index), "name": [tables.names.get(s, s) for s in wide.index]})
    for event_id, window in wide.columns:
        out[f"{event_id} {window}"] = wide[(event_id, window)].to_numpy()
    return out


def workbook_sheets(tables: ReturnTables) -> dict[str, tuple[pd.DataFrame, list[str], int]]:
    """Sheet name -> (frame, percent columns, frozen columns)."""
    sheets: dict[str, tuple[pd.DataFrame, list[str], int]] = {}
    board = tables.scoreboard.assign(
        recovery_sessions=tables.scoreboard["recovery_sessions"].astype("float64")
    )
    sheets["scoreboard"] = (board, _percent_columns(board), 1)
    for name in ("raw", "excess", "abnormal"):
        frame = flat_pivot(tables, name)
        sheets[f"{name} returns"] = (frame, [c for c in frame.columns if c not in ("symbol", "name")], 2)
    for name, frame in (("raw tidy", tables.raw), ("abnormal tidy", tables.abnormal),
                        ("pooled tests", tables.pooled)):  # fmt: skip
        frame = _excel_ready(frame)
        sheets[name] = (frame, _percent_columns(frame), 2)
    return sheets


def _percent_columns(frame: pd.DataFrame) -> list[str]:
    return [c for c in frame.columns if guess_kind(str(c), frame[c].dtype) in ("percent", "signed_percent")]


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    """Excel has no nullable or tz-aware types: plain floats and naive dates."""
    out = frame.copy()
    for column in out.columns:
        dtype = out[column].dtype
        if isinstance(dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_localize(None)
        elif pd.api.types.is_extension_array_dtype(dtype) and pd.api.types.is_numeric_dtype(dtype):
            out[column] = out[column].astype("float64")
    return out


def workbook_bytes(tables: ReturnTables) -> bytes:
    """The Excel workbook (.xlsx) of every return table."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        for name, (frame, percent, frozen) in workbook_sheets(tables).items():
            frame.to_excel(writer, sheet_name=name, index=False, freeze_panes=(1, frozen))
            sheet = writer.sheets[name]
            for position, column in enumerate(frame.columns, start=1):
                letter = sheet.cell(row=1, column=position).column_letter
                sheet.column_dimensions[letter].width = max(10, min(40, len(str(column)) + 2))
                if column in percent:
                    for (cell,) in sheet.iter_rows(min_row=2, min_col=position, max_col=position):
                        cell.number_format = PERCENT_FORMAT
    return reproducible_zip(buffer.getvalue())


_STAMP = re.compile(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(</dcterms:)")


def reproducible_zip(data: bytes) -> bytes:
    """The same .xlsx with fixed dates, so that the same tables give the same bytes.

    openpyxl stamps the save time into ``docProps/core.xml`` and into every zip entry;
    both become 1980-01-01 (the earliest zip date).
    """
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = _STAMP.sub(rb"\g<1>1980-01-01T00:00:00Z\g<2>", content)
            fixed = zipfile.ZipInfo(item.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = item.external_attr
            target.writestr(fixed, content)
    return out.getvalue()


def return_table_files(tables: ReturnTables) -> dict[str, str | bytes]:
    """Every file of the return tables by file name: tidy CSVs, the workbook and the LaTeX tables."""
    return start_return_table_files(tables)()


def start_return_table_files(tables: ReturnTables) -> Callable[[], dict[str, str | bytes]]:
    """:func:`return_table_files` started now, collected by calling the returned function: with a
    second process running (:mod:`backtest.background`), it writes the workbook and the LaTeX
    tables meanwhile, unless this process takes them back first."""
    from backtest import background

    workbook = background.submit(workbook_bytes, tables)
    latex = background.submit(latex_document_body, tables)

    def collect() -> dict[str, str | bytes]:
        files: dict[str, str | bytes] = {
            f"{name}.csv": to_csv(frame) for name, frame in tables.tables().items()
        }
        latex_text = latex.result()  # the last handed over, the first taken back
        files[WORKBOOK_FILE] = workbook.result()
        files[LATEX_FILE] = latex_text
        return files

    return collect
