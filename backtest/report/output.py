"""THE output writer: every file a command leaves behind lands through here, as one set.

A command opens the target before any work (:func:`open_output`), so a doomed run
(``--out`` is a file, lies under a file, or sits in a read-only directory; another run
holds it) fails in well under a second. While it works it holds a lock beside the
target; the files go into a temporary directory beside the target; on success the
set is swapped in (old set renamed aside, new one renamed in, old one removed). Any
failure before the swap — an exception, a full disk, a failing ``os.replace`` —
leaves the previous set exactly as it was, and the temporary directory is removed.

Only a directory that is empty or holds a previous set (it carries the marker file
``.backtest-output``, or a ``results.json`` of an older version) is ever replaced:
``--out .`` or ``--out ~`` is refused rather than swapped away.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "out"
>>> with open_output(target, "--out") as out:
...     _ = out.write_text("table.csv", "a,b\\n1,2\\n")
>>> sorted(p.name for p in target.iterdir())
['.backtest-output', 'table.csv']
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from backtest.errors import OutputError
from backtest.files import current_umask

MARKER = ".backtest-output"
_MARKER_TEXT = "A set of backtest outputs, written as one; the next run into this directory replaces it.\n"
_LEGACY_MARKER = "results.json"  # sets written before the marker existed


def _reason(exc: OSError) -> str:
    return (exc.strerror or type(exc).__name__).lower()


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def check_target(target: Path, option: str) -> None:
    """Refuse a target that can never become an output directory, before any work.

    Raises
    ------
    OutputError
        The target is a file, lies under a file, or is a directory that holds files
        that are not a previous output set.
    """
    if Path.cwd().resolve().is_relative_to(target.resolve()):
        raise OutputError(
            f"{option} {str(target) or '.'}: is the working directory or above it; the new set would "
            "replace it: choose a subdirectory, e.g. out"
        )
    existing = _first_existing(target)
    if existing == target and not target.is_dir():
        raise OutputError(f"{option} {target}: is a file, not a directory; choose a directory name")
    if existing != target and not existing.is_dir():
        raise OutputError(f"{option} {target}: {existing} is a file, not a directory; choose another path")
    if existing == target:
        try:
            names = [p.name for p in target.iterdir()]
        except OSError as exc:
            raise OutputError(
                f"{option} {target}: cannot list it ({_reason(exc)}); check its permissions"
            ) from None
        if names and MARKER not in names and _LEGACY_MARKER not in names:
            raise OutputError(
                f"{option} {target}: holds other files ({len(names)}) and is not a backtest output "
                "directory; the new set would replace it: choose a new or empty directory"
            )


class OutputSet:
    """A set of output files written into a staging directory and swapped in on :meth:`commit`.

    Use through :func:`open_output`. ``path(name)`` gives where to write a file;
    :meth:`write_text` writes UTF-8 text with ``\\n`` line ends.
    """

    def __init__(self, target: str | Path, option: str = "--out") -> None:
        self.target = Path(target)
        self.option = option
        self.staging: Path | None = None
        self._lock_fd: int | None = None
        self.written: list[Path] = []

    def __str__(self) -> str:
        return str(self.target)  # "Wrote 12 files to out/" names the target, not the staging dir

    def __repr__(self) -> str:
        return f"OutputSet({str(self.target)!r}, {len(self.written)} files)"

    # -- opening: check, lock, staging directory ------------------------------------------
    def open(self) -> OutputSet:
        """Check the target, take the lock and create the staging directory beside it."""
        check_target(self.target, self.option)
        parent = self.target.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(
                f"{self.option} {self.target}: cannot create {parent} ({_reason(exc)}); "
                "choose a writable location"
            ) from None
        self._lock()
        try:
            self.staging = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".tmp", dir=parent))
        except OSError as exc:
            self._unlock()
            raise OutputError(
                f"{self.option} {self.target}: cannot write in {parent} ({_reason(exc)}); "
                "choose a writable directory"
            ) from None
        return self

    def _lock_path(self) -> Path:
        return self.target.parent / f".{self.target.name}.lock"

    def _lock(self) -> None:
        path = self._lock_path()
        for _attempt in range(5):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
            except OSError as exc:
                raise OutputError(
                    f"{self.option} {self.target}: cannot write in {path.parent} ({_reason(exc)}); "
                    "choose a writable directory"
                ) from None
            try:
                _try_lock(fd)
            except OSError:
                os.close(fd)
                raise OutputError(
                    f"{self.option} {self.target}: another backtest run is writing there now; wait for "
                    "it to finish or choose another directory"
                ) from None
            # The holder before us removes the file as it lets go: a lock on a removed file is
            # no lock, so check that the path still names the file we locked.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                self._lock_fd = fd
                return
            os.close(fd)
        raise OutputError(f"{self.option} {self.target}: could not take the lock {path}; retry")

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            self._lock_path().unlink(missing_ok=True)  # removed while still held: see _lock
            os.close(self._lock_fd)  # closing the descriptor releases the lock
            self._lock_fd = None

    # -- writing ---------------------------------------------------------------------------
    def path(self, name: str) -> Path:
        """Where to write the file ``name`` (a path relative to the output directory)."""
        if self.staging is None:
            raise RuntimeError("OutputSet.path() before open()")
        path = self.staging / name
        path.parent.mkdir(parents=True, exist_ok=True)
        self.written.append(self.target / name)
        return path

    def write_text(self, name: str, text: str) -> Path:
        """Write UTF-8 text with ``\\n`` line ends; returns the file's final path."""
        with self.path(name).open("w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        return self.written[-1]

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write bytes; returns the file's final path."""
        self.path(name).write_bytes(data)
        return self.written[-1]

    def write_with(self, name: str, write: Callable[[BinaryIO], None]) -> Path:
        """Write the file with ``write(handle)`` (a binary handle); returns the file's final path."""
        with self.path(name).open("wb") as handle:
            write(handle)
        return self.written[-1]

    def write_pieces(self, name: str, pieces: Iterable[str | bytes]) -> Path:
        """Write pieces of text (UTF-8, as :meth:`write_text` writes it) or bytes one after another,
        as they are made; returns the file's final path."""
        with self.path(name).open("wb") as handle:
            for piece in pieces:
                handle.write(piece.encode("utf-8") if isinstance(piece, str) else piece)
        return self.written[-1]

    # -- closing: swap in, or throw away -----------------------------------------------------
    def commit(self) -> None:
        """Swap the staged set in place of the previous one (which is removed)."""
        assert self.staging is not None
        if not self.written:  # nothing to swap in (e.g. --out with --list): keep the previous set
            return
        (self.staging / MARKER).write_text(_MARKER_TEXT, encoding="utf-8")
        os.chmod(self.staging, 0o777 & ~current_umask())  # mkdtemp makes it 0700; follow the umask
        aside: Path | None = None
        if self.target.exists():
            parent = self.target.parent
            aside = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", suffix=".old", dir=parent))
            os.rmdir(aside)  # a fresh name for the old set, free again for the rename
            os.replace(self.target, aside)
        try:
            os.replace(self.staging, self.target)
        except BaseException:
            if aside is not None:
                os.replace(aside, self.target)  # put the previous set back
            raise
        self.staging = None
        if aside is not None:
            shutil.rmtree(aside, ignore_errors=True)

    def discard(self) -> None:
        """Remove the staging directory; the previous set is untouched."""
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def __enter__(self) -> OutputSet:
        return self if self.staging is not None else self.open()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if kind is None:
                try:
                    self.commit()
                except OSError as error:
                    raise OutputError(
                        f"{self.option} {self.target}: could not write the outputs ({_reason(error)}); "
                        "the previous outputs are unchanged; free space or choose another directory"
                    ) from None
        finally:
            self.discard()
            self._unlock()


def _try_lock(fd: int) -> None:
    """Take an exclusive, non-blocking lock on ``fd``; OSError when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        return
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def open_output(target: str | Path, option: str = "--out") -> OutputSet:
    """Check ``target``, lock it and open a staging directory; use as a context manager.

    The files are swapped in when the ``with`` block ends without an exception; on
    an exception the previous set is kept whole.

    Raises
    ------
    OutputError
        The target cannot be written (a file, under a file, read-only, not an output
        directory) or another run holds it.
    """
    return OutputSet(target, option).open()


def write_file(path: str | Path, text: str, option: str) -> Path:
    """Write one named file (``--csv FILE``) atomically: a temp file beside it, then ``os.replace``."""
    path = Path(path)
    check_file_target(path, option)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
        os.chmod(temp, 0o666 & ~current_umask())
        os.replace(temp, path)
    except OSError as exc:
        raise OutputError(
            f"{option} {path}: could not write it ({_reason(exc)}); check the free space and permissions"
        ) from None
    finally:
        Path(temp).unlink(missing_ok=True)
    return path


def check_file_target(path: str | Path, option: str) -> None:
    """Refuse an output file path that cannot be written, before any work.

    Raises
    ------
    OutputError
        The path is a directory, its directory is missing or not writable.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{option} {path}: is a directory; give a file name")
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"{option} {path}: directory {parent} does not exist; create it or fix the path")
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise OutputError(f"{option} {path}: not writable (permission denied); choose another path")
