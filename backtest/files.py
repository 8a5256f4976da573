"""Small file-system helpers shared by the output writer and the price cache."""

from __future__ import annotations

import os


def current_umask() -> int:
    """The process umask (read by setting and restoring it; POSIX has no read-only call).

    Files made with ``tempfile.mkstemp`` / ``mkdtemp`` are 0600 / 0700 whatever the umask;
    ``0o666 & ~current_umask()`` gives the mode an ordinary ``open`` would have given.
    """
    mask = os.umask(0)
    os.umask(mask)
    return mask
