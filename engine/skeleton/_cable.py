"""Cable length: the total length of a skeleton's edges."""

import numpy as np

from .._errors import InvalidInputError
from ._graph import SkeletonGraph


def cable_length(skeleton, *, smooth=0.0, spacing=None, by_label=False):
    """Total physical length of a skeleton.

    Parameters
    ----------
    skeleton : SkeletonGraph, Branches or osteoid.Skeleton
        An ``osteoid.Skeleton`` is measured as stored (its vertices are
        physical).
    smooth : float or None
        0 (default) sums the edges as they are, as navis and osteoid do;
        ``None`` smooths each branch with the default sigma first (the right
        measure of a voxel skeleton); a number is a physical sigma.
    spacing : (dz, dy, dx), optional
        The voxel size an ``osteoid.Skeleton`` was traced at; needed to
        smooth one with the default sigma (``smooth=None``).
    by_label : bool
        Return a ``pandas.Series`` of cable length per label id.

    Examples
    --------
    >>> import numpy as np
    >>> from engine.skeleton import SkeletonGraph
    >>> g = SkeletonGraph(np.array([[0., 0, 0], [0, 3, 4], [0, 3, 10]]),
    ...                   np.array([[0, 1], [1, 2]]), np.ones(3), np.ones(3, np.uint64))
    >>> cable_length(g)
    11.0
    """
    from ._branches import Branches
    from ._skeletonize import from_osteoid

    if isinstance(skeleton, Branches):
        return skeleton.cable_length(by_label=by_label)
    if not isinstance(skeleton, SkeletonGraph):
        if smooth is None and spacing is None:
            raise InvalidInputError(
                "cable_length: smooth=None smooths with twice the coarsest voxel size, so an "
                "osteoid.Skeleton needs spacing=(dz, dy, dx); give smooth=SIGMA or smooth=0 instead")
        skeleton = from_osteoid(skeleton, (1.0, 1.0, 1.0) if spacing is None else spacing)
    if smooth == 0:
        if by_label:
            import pandas as pd

            lengths = skeleton.edge_lengths()
            labels = skeleton.labels[skeleton.edges[:, 0]] if len(lengths) else np.zeros(0, np.uint64)
            return pd.Series(lengths).groupby(labels).sum()
        return float(skeleton.edge_lengths().sum())
    return Branches(skeleton, smooth=smooth).cable_length(by_label=by_label)
