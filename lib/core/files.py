"""Files and folders the app creates that hold secrets or user data are its own user's only (0600 / 0700).

Modes are set explicitly: the usual umask (022) would leave them readable by every local account.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def make_private_dir(path: str | Path) -> None:
    """`mkdir -p` whose every newly made folder is 0700. A folder that exists already is left as it is."""
    path = Path(path)
    missing = []
    while not path.exists():
        missing.append(path)
        path = path.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # a concurrent start made it
            pass


def restrict_to_owner(path: str | Path) -> None:
    """Take group and other permissions off an existing file (one left by an earlier release); no-op if absent."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return
    if mode & 0o077:
        os.chmod(path, mode & 0o700)


def create_private_file(path: str | Path) -> None:
    """Make sure `path` exists with mode 0600: created empty if missing (content kept otherwise)."""
    os.close(os.open(path, os.O_RDONLY | os.O_CREAT, 0o600))
    restrict_to_owner(path)


def generated_secret(path: str | Path, make: Callable[[], str]) -> str:
    """The secret kept in `path` (0600), made with `make()` and written there first if the file does not exist.

    Written to a private temporary file and linked into place, so concurrent starts agree on one secret and none
    ever reads a half-written file. Returns the file's text, stripped (the caller checks that it is usable).
    """
    path = Path(path)
    if not path.exists():
        make_private_dir(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(make())
            os.link(tmp, path)  # atomic: a concurrent start never reads a half-written secret
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    restrict_to_owner(path)
    return path.read_text().strip()
