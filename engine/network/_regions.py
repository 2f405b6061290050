"""Search regions as a label volume, for viewers and exports."""

import numpy as np

from .._validate import check_distance, check_labels, check_spacing
from ..label import label_properties
from ._crops import distance_to_label, node_crops


def search_regions(nodes, *, search, spacing=(1.0, 1.0, 1.0), progress=None):
    """Grow each node by ``search`` (physical), without entering another's region.

    A voxel within reach of several nodes goes to the nearest one (ties to
    the smaller label). This is the region :func:`connect` uses.

    Examples
    --------
    >>> nodes = np.zeros((1, 1, 9), np.uint8); nodes[0, 0, 0] = 1; nodes[0, 0, 8] = 2
    >>> search_regions(nodes, search=3, spacing=(1, 1, 1))[0, 0].tolist()
    [1, 1, 1, 1, 0, 2, 2, 2, 2]
    >>> search_regions(nodes, search=3, spacing=(1, 1, 2))[0, 0].tolist()
    [1, 1, 0, 0, 0, 0, 0, 2, 2]
    """
    nodes = check_labels(nodes, name="nodes")
    spacing = check_spacing(spacing)
    search = check_distance(search, name="search")
    reach = search * (1 + 1e-6) + 1e-9
    table = label_properties(nodes, spacing=spacing).sort_values("label", ascending=False)
    regions = np.zeros_like(nodes)
    best = np.full(nodes.shape, np.inf, dtype=np.float32)
    # Larger labels first so that, on equal distance, the smaller one wins.
    crops = node_crops(nodes, table, search, spacing)
    for done, (label, slices) in enumerate(crops, start=1):
        dist = distance_to_label(nodes[slices], label, spacing)
        if progress is not None:
            progress(done, len(crops))
        win = (dist <= reach) & (dist <= best[slices])
        regions[slices][win] = label
        best[slices][win] = dist[win]
    return regions
