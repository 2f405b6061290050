"""Atomic file writes: a file is either fully written or left untouched."""

import contextlib
import os
import secrets
import shutil

from .._errors import InvalidInputError, MissingFileError

_WRITE_MODES = ("w", "wb", "wt")


def _open_temporary(path, mode, **kwargs):
    """Create and open a new temporary file beside ``path``.

    Exclusive creation (mode ``x``) gives the same permissions as a plain
    ``open(path, "w")`` (0o666 less the user's umask) and never reuses
    an existing file. The handle has a real ``name`` (tifffile needs it).
    """
    directory, base = os.path.split(path)
    exclusive = mode.replace("w", "x")
    for _ in range(100):
        temporary = os.path.join(directory, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            return open(temporary, exclusive, **kwargs)
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}")


def _sync_directory(directory):
    """Flush the directory entry of a rename to disk (POSIX only)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_write(path, mode="wb", *, encoding=None, newline=None):
    """Open a file for writing so that it is replaced only on success.

    Data go to a temporary file in the same directory; when the ``with``
    block ends without an exception the file is flushed to disk and
    renamed over ``path`` with :func:`os.replace` (atomic on POSIX and
    Windows). If anything fails the temporary file is removed and an
    existing ``path`` is left exactly as it was. Permissions follow the
    user's umask for a new file and are copied from the old file when one
    is replaced.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file. Its directory must exist.
    mode : {"wb", "w", "wt"}
        Binary or text writing.
    encoding : str, optional
        Text encoding (text modes only); UTF-8 when not given.
    newline : str, optional
        Passed to :func:`open` in text modes (use ``""`` for CSV).

    Yields
    ------
    file object
        The open temporary file. Do not close it yourself.

    Raises
    ------
    InvalidInputError
        If ``mode`` is not a write mode.
    MissingFileError
        If the destination directory does not exist.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "note.txt"
    >>> with atomic_write(target, "w") as fh:
    ...     _ = fh.write("saved in one piece")
    >>> target.read_text()
    'saved in one piece'
    """
    if mode not in _WRITE_MODES:
        raise InvalidInputError(f"mode must be one of {_WRITE_MODES}, was {mode!r}")
    path = os.path.realpath(os.fspath(path))  # write through symlinks
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise MissingFileError(
            f"cannot write {path}: the folder {directory} does not exist"
        )
    if os.path.isdir(path):
        raise InvalidInputError(f"cannot write {path}: it is a folder")
    text = {} if "b" in mode else {"encoding": encoding or "utf-8", "newline": newline}
    handle = _open_temporary(path, mode, **text)
    temporary = handle.name
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if os.path.exists(path):
            with contextlib.suppress(OSError):
                shutil.copymode(path, temporary)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    _sync_directory(directory)
