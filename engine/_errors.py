"""One error hierarchy for the whole engine.

Each class also derives from the built-in it refines, so callers that
catch ``ValueError`` or ``FileNotFoundError`` keep working.
"""


class PlexusError(Exception):
    """Base class of every error Plexus raises on purpose."""


class InvalidInputError(PlexusError, ValueError):
    """An argument or a file's content is not what the function expects."""


class FileFormatError(InvalidInputError):
    """A file exists but cannot be read as the expected format."""


class MissingFileError(PlexusError, FileNotFoundError):
    """A path the user gave does not exist."""


class MissingExtraError(PlexusError, ImportError):
    """An optional dependency is not installed; the message names the extra."""


def require(module_name, extra):
    """Import an optional dependency or raise an error naming the extra.

    >>> require("math", "demo").__name__
    'math'
    """
    import importlib

    try:
        return importlib.import_module(module_name)
    except ImportError as err:
        raise MissingExtraError(
            f"{module_name!r} is not installed; install it with "
            f"`pip install 'plexus3d[{extra}]'`"
        ) from err
