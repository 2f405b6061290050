"""Checks on paths the user gives, shared by the readers."""

import os

from .._errors import FileFormatError, MissingFileError


def existing_file(path):
    """Return ``path`` as a string, raising a clear error unless it is a file.

    >>> existing_file(__file__) == __file__
    True
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise MissingFileError(f"{path} does not exist; check the path and name")
    if os.path.isdir(path):
        raise FileFormatError(f"{path} is a folder, expected a file")
    return path
