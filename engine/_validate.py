"""Shared validators: every check of user input lives here.

Messages say what was expected, what was given, and where (the argument
name or the file), so the user can fix the input without reading code.
"""

import numbers

import numpy as np

from ._errors import InvalidInputError


def _where(name, source):
    return f"{name} ({source})" if source else name


def check_spacing(spacing, ndim=3, *, name="spacing"):
    """Return spacing as a float tuple of length ``ndim``, all > 0.

    A scalar means isotropic spacing.

    >>> check_spacing((2, 1, 1))
    (2.0, 1.0, 1.0)
    >>> check_spacing(0.5)
    (0.5, 0.5, 0.5)
    """
    if spacing is None:
        return (1.0,) * ndim
    if isinstance(spacing, numbers.Number):
        spacing = (spacing,) * ndim
    try:
        values = tuple(float(s) for s in spacing)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"{name} must be {ndim} numbers (dz, dy, dx), was {spacing!r}"
        ) from None
    if len(values) != ndim:
        raise InvalidInputError(
            f"{name} must have {ndim} values (dz, dy, dx), was {spacing!r}"
        )
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise InvalidInputError(f"{name} values must all be > 0, was {spacing!r}")
    return values


def check_distance(value, *, name, allow_zero=True):
    """Return a physical distance as float, checking it is finite and >= 0.

    >>> check_distance(3, name="search")
    3.0
    """
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a number, was {value!r}") from None
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise InvalidInputError(f"{name} must be {bound}, was {value!r}")
    return value


def as_volume(array, *, name="volume", source=None):
    """Return ``array`` as a 3D (z, y, x) array; a 2D image becomes (1, y, x).

    Singleton leading axes (a channel or time axis of length 1) are dropped.
    """
    where = _where(name, source)
    array = np.asarray(array)
    if array.size == 0:
        raise InvalidInputError(f"{where} is empty (shape {array.shape})")
    while array.ndim > 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim == 2:
        array = array[np.newaxis]
    if array.ndim != 3:
        raise InvalidInputError(
            f"{where} must be a 2D (y, x) or 3D (z, y, x) volume, "
            f"got {array.ndim}D with shape {array.shape}; "
            "split channels or time points into separate files first"
        )
    return array


def check_intensity_image(image, *, name="image", source=None):
    """Return one grayscale intensity volume as 3D, refusing colour and 4D.

    Booleans become 0/1 as uint8; a last axis of 3 or 4 samples behind
    more than 4 planes is taken for colour (RGB(A)) and refused.

    >>> check_intensity_image(np.zeros((4, 5))).shape
    (1, 4, 5)
    """
    where = _where(name, source)
    raw = np.asarray(image)
    if raw.ndim >= 3 and raw.shape[-1] in (3, 4) and raw.shape[0] > 4:
        raise InvalidInputError(
            f"{where} looks like a colour (RGB(A)) image (shape {raw.shape}); "
            "expected one grayscale volume (z, y, x): convert it to grey or "
            "pick one channel, e.g. image[..., 0]"
        )
    volume = as_volume(raw, name=name, source=source)
    if volume.dtype == bool:
        volume = volume.view(np.uint8)
    if volume.dtype.kind not in "uif":
        raise InvalidInputError(
            f"{where} must hold intensities (integers or floats), got {volume.dtype}"
        )
    return volume


def check_labels(array, *, name="labels", source=None, allow_empty=False):
    """Return a label volume (unsigned integers, 0 = background) as 3D.

    Signed integer arrays with no negative value are accepted and viewed
    as unsigned without changing any id; booleans become 0/1.
    """
    where = _where(name, source)
    array = as_volume(array, name=name, source=source)
    if array.dtype == bool:
        array = array.view(np.uint8)
    elif array.dtype.kind == "f":
        raise InvalidInputError(
            f"{where} must hold integer labels, got floating-point data "
            f"({array.dtype}); export the segmentation as an integer image"
        )
    elif array.dtype.kind == "i":
        low = array.min()
        if low < 0:
            raise InvalidInputError(
                f"{where} must not contain negative labels, found {int(low)}"
            )
        array = array.view(np.dtype(f"u{array.dtype.itemsize}"))
    elif array.dtype.kind != "u":
        raise InvalidInputError(
            f"{where} must be an integer label image, got dtype {array.dtype}"
        )
    if not allow_empty and not array.any():
        raise InvalidInputError(f"{where} contains no objects (every voxel is 0)")
    return array


def check_same_shape(a, b, *, names=("nodes", "edges")):
    """Raise unless the two volumes have the same shape."""
    if a.shape != b.shape:
        raise InvalidInputError(
            f"{names[0]} and {names[1]} must have the same shape, "
            f"got {a.shape} and {b.shape}"
        )


def check_choice(value, choices, *, name):
    """Return ``value`` if it is one of ``choices``, else raise listing them.

    >>> check_choice("louvain", ("louvain", "leiden"), name="method")
    'louvain'
    """
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise InvalidInputError(f"{name} must be one of {valid}, was {value!r}")
    return value


def check_graph(graph, *, name="graph"):
    """Return ``graph`` if it is an undirected, simple ``networkx.Graph``.

    >>> import networkx as nx
    >>> check_graph(nx.path_graph(3)).number_of_nodes()
    3
    """
    import networkx as nx

    if not isinstance(graph, nx.Graph) or graph.is_directed() or graph.is_multigraph():
        raise InvalidInputError(
            f"{name} must be an undirected networkx.Graph (not directed, not a "
            f"multigraph), was {type(graph).__name__}; convert it with nx.Graph(g)"
        )
    return graph


def check_count(value, *, name, minimum=1):
    """Return ``value`` as an int, checking it is a whole number >= ``minimum``.

    >>> check_count(3, name="samples")
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{name} must be a whole number, was {value!r}")
    if value < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, was {value!r}")
    return int(value)


def is_chunked(volume):
    """True for a volume to process blockwise: a zarr path, a zarr or dask array.

    >>> is_chunked(np.zeros((2, 2, 2))), is_chunked("cells.zarr")
    (False, True)
    """
    import os

    if isinstance(volume, (str, os.PathLike)):
        return True
    return (not isinstance(volume, np.ndarray) and hasattr(volume, "chunks")
            and hasattr(volume, "shape"))
