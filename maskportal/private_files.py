"""Files and folders only the platform's own user may read: secrets, the database, face photos.

Face photos and the database are biometric data, and `first_admin.txt` holds a password, so they
are created 0600 (folders 0700) rather than left to the umask; the database, the secret key and the
media folder, when made earlier with wider modes, are narrowed when the platform starts. Nothing
here runs chmod on a file another user owns.
"""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700


def _narrow(path: Path, mode: int) -> None:
    status = path.stat()
    if status.st_uid == os.getuid() and status.st_mode & 0o777 != mode:
        path.chmod(mode)


def private_dir(path: Path) -> Path:
    """`path` as a folder (created if missing) that only this user can list or enter."""
    path.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR)
    _narrow(path, PRIVATE_DIR)
    return path


def private_file(path: Path) -> Path:
    """`path` as a file (created empty if missing, e.g. a SQLite database) only this user can read."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    _narrow(path, PRIVATE_FILE)
    return path


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path`, readable by this user only from the first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "w") as handle:
        _narrow(path, PRIVATE_FILE)
        handle.write(text)
    return path
