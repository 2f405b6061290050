"""Skeletons of branched structures: branches, branch labels and networks.

``skeletonize`` turns a mask or label volume into a :class:`SkeletonGraph`
(physical units); :class:`Branches` measures its branches (length,
euclidean distance, tortuosity, radii) and shows them as tables and as the
branchpoint and branch-adjacency networks; ``label_branches`` paints each
branch's id back into the volume. ``to_osteoid`` / ``from_osteoid`` convert
to and from the ``osteoid.Skeleton`` that kimimaro, cloud-volume and navis
use, and ``cable_length`` measures any of them.
"""

from ._branches import Branches, default_sigma, prune_graph
from ._cable import cable_length
from ._graph import SkeletonGraph, smooth_path
from ._label import label_branches
from ._skeletonize import from_osteoid, skeletonize, to_osteoid

__all__ = [
    "Branches",
    "SkeletonGraph",
    "cable_length",
    "default_sigma",
    "from_osteoid",
    "label_branches",
    "prune_graph",
    "skeletonize",
    "smooth_path",
    "to_osteoid",
]
