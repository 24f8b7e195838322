"""File-system helpers shared by every atomic writer of the package."""

from __future__ import annotations

import os


def umask_mode() -> int:
    """The mode a plain ``open(path, "w")`` would give a new file: ``0o666 & ~umask``.

    Atomic writers create their temporary file with :func:`tempfile.mkstemp`, whose
    mode is 0o600; they apply this mode before moving the file into place, so what
    the package writes gets the user's normal permissions.
    """
    umask = os.umask(0o022)  # reading the umask means setting it: put it back at once
    os.umask(umask)
    return 0o666 & ~umask
