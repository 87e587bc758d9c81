"""Writing an output file so that it is either complete or absent."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cpm.errors import CpmError


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_output(path: Path, *, what: str = "file") -> Iterator[Path]:
    """Yield a temporary path next to `path`; on success it replaces `path`, on failure it is removed.

    An existing file is replaced only when writing succeeded. The file gets the usual permissions
    (0666 less the umask), as if it had been created directly.
    """
    folder = path.parent
    if path.is_dir():
        raise CpmError(f"cannot write {path}: it is a folder", hint=f"Give the {what} a file name.")
    if not folder.is_dir():
        raise CpmError(f"cannot write {path}: the folder {folder} does not exist", hint="Create it first.")
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise CpmError(
            f"cannot write {path}: {exc.strerror}", hint="Choose a folder you may write to."
        ) from exc
    os.close(handle)
    temp = Path(name)
    try:
        yield temp
        os.chmod(temp, 0o666 & ~_umask())
        os.replace(temp, path)
    except OSError as exc:
        raise CpmError(
            f"cannot write {path}: {exc.strerror}", hint="Choose a folder you may write to."
        ) from exc
    finally:
        temp.unlink(missing_ok=True)
