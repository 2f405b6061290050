"""Paint per-node values (degree, community, ...) back into the label volume.

The volume is rewritten by ``fastremap.remap`` with one table entry per
label present, so the cost is one pass over the voxels whatever the ids
(sparse uint64 ids included).
"""

import numbers

import fastremap
import numpy as np

from .._errors import InvalidInputError
from .._validate import check_graph, check_labels

__all__ = ["attribute_overlay", "degree_overlay", "community_overlay"]

_UNSIGNED = (np.uint8, np.uint16, np.uint32, np.uint64)
_SIGNED = (np.int8, np.int16, np.int32, np.int64)


def attribute_overlay(nodes, values, *, dtype=None):
    """Volume where each object's voxels hold that object's value.

    Parameters
    ----------
    nodes : ndarray of unsigned int
        Label volume, 0 = background; any ids up to uint64.
    values : mapping
        ``{label: int}`` (a dict or a pandas Series indexed by label).
        Labels absent from the volume are ignored; a value for label 0 is
        ignored (background stays 0).
    dtype : numpy dtype, optional
        Output type. Default: the smallest unsigned type that holds every
        value (signed if a value is negative).

    Returns
    -------
    ndarray
        Same shape as ``nodes``. Background and labels missing from
        ``values`` read 0, so a node whose value is 0 looks like background;
        use ``nodes > 0`` as the foreground mask.

    Examples
    --------
    >>> labels = np.array([[0, 2**40 + 3], [5, 5]], dtype=np.uint64)
    >>> attribute_overlay(labels, {5: 2, 2**40 + 3: 7}).tolist()
    [[0, 7], [2, 2]]
    """
    shape = np.shape(nodes)
    labels = check_labels(nodes, name="nodes", allow_empty=True)
    table = _value_table(values)
    out_dtype = _output_dtype(table.values(), dtype)
    present = fastremap.unique(labels)
    lookup = {int(label): table.get(int(label), 0) for label in present}
    lookup[0] = 0
    if min(lookup.values()) < 0:
        # fastremap widens unsigned output but never makes it signed.
        if int(labels.max()) >= 2**63:
            raise InvalidInputError(
                "negative values need labels below 2**63; shift the values to >= 0"
            )
        labels = labels.astype(np.int64)
    painted = fastremap.remap(labels, lookup, preserve_missing_labels=False)
    return painted.astype(out_dtype, copy=False).reshape(shape)


def degree_overlay(nodes, graph, *, dtype=None):
    """Each object's voxels hold its degree (number of neighbours).

    Isolated nodes (degree 0) and labels not in the graph read 0, like the
    background: the degree is shown as is, not shifted; combine with
    ``nodes > 0`` to tell isolated objects from background.

    Parameters
    ----------
    nodes : ndarray of unsigned int
        Label volume the graph was built from.
    graph : networkx.Graph
        Network whose node ids are the labels.
    dtype : numpy dtype, optional
        Output type; default the smallest unsigned type that fits.

    Returns
    -------
    ndarray
        Same shape as ``nodes``.

    Examples
    --------
    >>> labels = np.array([[1, 0, 2, 3]], dtype=np.uint8)
    >>> import networkx as nx
    >>> degree_overlay(labels, nx.Graph([(1, 2), (1, 3)])).tolist()
    [[2, 0, 1, 1]]
    """
    graph = check_graph(graph)
    return attribute_overlay(nodes, dict(graph.degree()), dtype=dtype)


def community_overlay(nodes, assignment, *, dtype=None):
    """Each object's voxels hold its community id.

    Parameters
    ----------
    nodes : ndarray of unsigned int
        Label volume the graph was built from.
    assignment : mapping
        ``{label: community_id}`` with ids >= 1, as from ``communities``;
        0 is reserved for background and labels without a community.
    dtype : numpy dtype, optional
        Output type; default the smallest unsigned type that fits.

    Returns
    -------
    ndarray
        Same shape as ``nodes``.

    Examples
    --------
    >>> labels = np.array([[7, 0, 9]], dtype=np.uint16)
    >>> community_overlay(labels, {7: 2, 9: 1}).tolist()
    [[2, 0, 1]]
    """
    table = _value_table(assignment, name="assignment")
    low = min(table.values(), default=1)
    if low < 1:
        raise InvalidInputError(
            f"community ids must be >= 1 (0 is background), found {low}; "
            "renumber them, e.g. with communities()"
        )
    return attribute_overlay(nodes, table, dtype=dtype)


def _value_table(values, *, name="values"):
    """``{int label: int value}`` from a mapping or Series, checking types."""
    try:
        items = list(values.items())
    except AttributeError:
        raise InvalidInputError(
            f"{name} must map label -> integer (a dict or a Series), "
            f"was {type(values).__name__}"
        ) from None
    table = {}
    for label, value in items:
        for what, item in (("label", label), ("value", value)):
            is_bool = isinstance(item, (bool, np.bool_))
            if is_bool or not isinstance(item, numbers.Integral):
                raise InvalidInputError(
                    f"{name} must map integer labels to integer values; "
                    f"{what} {item!r} (for label {label!r}) is not an integer"
                )
        if int(label) < 0:
            raise InvalidInputError(f"{name} has a negative label {int(label)}")
        if int(label) != 0:
            table[int(label)] = int(value)
    return table


def _output_dtype(values, dtype):
    """The requested dtype (checked to fit), or the smallest that fits."""
    values = list(values)
    low, high = min(values, default=0), max(values, default=0)
    if dtype is not None:
        dtype = np.dtype(dtype)
        if dtype.kind not in "iu":
            raise InvalidInputError(f"dtype must be an integer type, was {dtype}")
        info = np.iinfo(dtype)
        if low < info.min or high > info.max:
            raise InvalidInputError(
                f"values span {low}..{high}, which does not fit dtype {dtype}"
            )
        return dtype
    for candidate in _UNSIGNED if low >= 0 else _SIGNED:
        info = np.iinfo(candidate)
        if info.min <= low and high <= info.max:
            return np.dtype(candidate)
    raise InvalidInputError(f"values span {low}..{high}, too wide for 64-bit integers")
