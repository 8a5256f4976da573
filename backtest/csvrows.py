"""Read a small user CSV file (events, closures) into rows with their line numbers, strictly.

One reader for every hand-written table, so each says the same thing about the same
mistake, naming the file, the line and the fix:

* a quote opened and never closed (the csv module would silently swallow the rest of
  the file into one field);
* a field longer than the csv module's limit (a pasted file, or that same open quote);
* NUL bytes and other control characters in a cell (they would reach the outputs);
* text that is not UTF-8.

>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "e.csv"
>>> _ = path.write_text('id,name\\n1,"Crash, then relief"\\n\\n2,b\\n', encoding="utf-8")
>>> read_rows(path, "events")
(['id', 'name'], [(2, ['1', 'Crash, then relief']), (4, ['2', 'b'])])
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from backtest.errors import BacktestError, os_error, where

#: C0 controls except tab, LF and CR; DEL; C1 controls.
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def read_text(path: Path, what: str, error: type[BacktestError] = BacktestError) -> str:
    """The file's text (UTF-8, BOM dropped); a missing or unreadable file is one clean error."""
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise error(f"{path}: {what} file not found; pass an existing CSV file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a directory, not a file; pass the {what} CSV file") from None
    except UnicodeDecodeError as exc:
        raise error(
            f"{where(path)} not UTF-8 text (byte {exc.start}); save the {what} file as UTF-8"
        ) from None
    except OSError as exc:
        raise os_error(exc, path, f"cannot read the {what} file", "check the path", error) from None


def control_character(text: str) -> str | None:
    """The first control character in ``text`` as ``'\\x00'`` (its escape), or None.

    >>> control_character("Crash\\x00"), control_character("tab\\tis fine")
    ("'\\\\x00'", None)
    """
    match = CONTROL_RE.search(text)
    return None if match is None else repr(match.group())


def read_rows(
    path: Path, what: str, error: type[BacktestError] = BacktestError
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and non-blank rows (with the line each starts on) of a CSV file, cells stripped.

    Raises
    ------
    BacktestError (``error``)
        Missing or unreadable file, not UTF-8, an unclosed quote, an over-long field, a
        control character; each names the file, the line and (for cells) the column.
    """
    text = read_text(path, what, error)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            records.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        message = str(exc)
        if "unexpected end of data" in message:
            raise error(
                f"{where(path, start)} a quote opened on this line is never closed; close it with \" "
                "(a quote inside a quoted value is written twice: \"\")"
            ) from None
        if "field larger than field limit" in message:
            raise error(
                f"{where(path, start)} a field is longer than {csv.field_size_limit():,} characters; "
                f"{what} fields are short text: look for a quote left open or text pasted by mistake"
            ) from None
        raise error(f"{where(path, start)} not valid CSV ({message}); fix the quoting") from None
    if not records or not any(h.strip() for h in records[0][1]):
        return [], []
    header = [h.strip() for h in records[0][1]]
    rows = []
    for line, cells in records[1:]:
        if not any(c.strip() for c in cells):
            continue
        for position, cell in enumerate(cells):
            bad = control_character(cell)
            if bad is not None:
                column = header[position] if position < len(header) else f"#{position + 1}"
                raise error(
                    f"{where(path, line, column)} contains the control character {bad}; remove it "
                    "(only tab and line breaks are allowed in text)"
                )
        rows.append((line, [c.strip() for c in cells]))
    return header, rows
