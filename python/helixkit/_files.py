"""File-system helpers shared by the writers (CSV events, checkpoints)."""

from __future__ import annotations

import os
import threading

_UMASK_LOCK = threading.Lock()


def default_file_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: ``0o666 & ~umask``.

    ``tempfile.mkstemp`` creates its file ``0o600``; a writer that renames such a
    file into place must set this mode first, or the user's umask is ignored.
    """
    with _UMASK_LOCK:  # os.umask can only be read by setting it
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask
