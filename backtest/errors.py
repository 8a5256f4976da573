"""One errors module: every user-facing failure is a ``BacktestError``.

The CLI turns a ``BacktestError`` into one line on stderr and exit code 2; any
other exception is a bug and may show a traceback. Each message says what is
wrong, where (file, line, column when there is one) and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence


class BacktestError(ValueError):
    """Base class of every error caused by user input or data, not by a bug."""


class UnknownSymbolError(BacktestError):
    """A symbol that no price source or registry knows."""


class DataError(BacktestError):
    """Price data that is missing, malformed or fails validation."""


class CacheError(DataError):
    """A cache file that cannot be read (corrupt or truncated)."""


class DownloadError(DataError):
    """A download that failed after all retries."""


class CalendarError(BacktestError):
    """A date or timestamp the exchange calendars cannot place."""


class EventsError(BacktestError):
    """An events file that is missing, empty or malformed."""


class ParameterError(BacktestError):
    """An option or parameter with a wrong name, type or range."""


class StudyError(BacktestError):
    """An event study that the data cannot support (no prices, no benchmark...)."""


class OutputError(BacktestError):
    """An output path that cannot be written, or that another run holds."""


class BudgetError(ParameterError):
    """A job whose estimated memory exceeds the budget (``--max-memory`` raises it)."""


def os_error(
    exc: OSError, path: object, what: str, fix: str, error: type[BacktestError] | None = None
) -> BacktestError:
    """One line for an ``OSError`` on a user-named path: what failed, why, and the fix.

    >>> print(os_error(PermissionError(13, "Permission denied"), "e.csv", "cannot read the events file",
    ...                "check the path"))
    e.csv: cannot read the events file (permission denied); check its permissions (chmod) or run as a
    user who may read it
    """
    reason = (exc.strerror or type(exc).__name__).lower()
    if isinstance(exc, PermissionError):
        fix = "check its permissions (chmod) or run as a user who may read it"
    elif isinstance(exc, IsADirectoryError):
        reason, fix = "is a directory", "pass a file, not a directory"
    return (error or BacktestError)(f"{path}: {what} ({reason}); {fix}")


class SchedulerError(BacktestError):
    """A Dask scheduler (``--scheduler tcp://...``) that cannot be reached or is lost mid-run, a
    local cluster (``local:N``) whose worker processes do not start, or a unit of work that the
    scheduler gave up on after it ended every worker process that ran it."""


class BacktestWarning(UserWarning):
    """Base class of the tool's warnings: something worth knowing, results still valid."""


class ShortHistoryWarning(BacktestWarning):
    """An estimation window shorter than asked for, or a fallback model was used."""


class CalendarWarning(BacktestWarning):
    """The exchange calendar and the price data disagree (e.g. an unlisted closure)."""


class DataWarning(BacktestWarning):
    """Suspicious but usable data (rows off the calendar, missing prices in a window)."""


class DataGapWarning(DataWarning):
    """An instrument lacks price rows on sessions its exchange was open: missing data, not closures."""


def shown(value: object, width: int = 60) -> str:
    """``repr`` of a cell for a message, cut to ``width`` characters (a 2 MB cell stays one short line).

    >>> shown("NVDA"), shown("9" * 100, width=12)
    ("'NVDA'", "'99999999…' (100 characters)")
    """
    text = repr(value)
    if len(text) <= width:
        return text
    size = f" ({len(value)} characters)" if isinstance(value, str) else ""
    return repr(str(value)[: max(1, width - 3)])[: width - 3] + "…'" + size


def where(path: object, line: int | None = None, column: str | None = None) -> str:
    """Format a location prefix such as ``events.csv:3: column 'announced_at':``.

    >>> where("events.csv", 3, "announced_at")
    "events.csv:3: column 'announced_at':"
    >>> where("prices/NVDA.csv")
    'prices/NVDA.csv:'
    """
    text = str(path)
    if line is not None:
        text += f":{line}"
    text += ":"
    if column is not None:
        text += f" column '{column}':"
    return text


class PluginWarning(BacktestWarning):
    """A user strategy module or entry point that failed to load; the others still work."""


def closest_match(name: str, known: Sequence[str], cutoff: float = 0.6) -> str | None:
    """The known name closest to ``name`` (difflib), or None.

    >>> closest_match("buy_the_dp", ["buy_and_hold", "buy_the_dip"])
    'buy_the_dip'
    """
    import difflib

    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=cutoff)
    return close[0] if close else None


def did_you_mean(name: str, known: Sequence[str]) -> str:
    """``"; did you mean 'NVDA'?"`` for the closest known name (case-insensitive), else ``""``.

    >>> did_you_mean("nvda", ["NVDA", "SPY"])
    "; did you mean 'NVDA'?"
    >>> did_you_mean("QQQQQQQ", ["NVDA"])
    ''
    """
    by_folded = {k.casefold(): k for k in known}
    folded = name.casefold()
    close = folded if folded in by_folded else closest_match(folded, list(by_folded))
    return f"; did you mean {by_folded[close]!r}?" if close is not None else ""
