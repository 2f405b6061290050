"""Volumes larger than memory: the engine's heavy steps over ``dask.array``.

Every function takes a dask array, a zarr array, a path to a zarr or
OME-Zarr store, or a numpy array, works one chunk (plus the overlap the
step needs) at a time, and gives the same result as the in-memory
function of the same name. Which machine runs the chunks is Dask's
business: threads, processes, or a ``dask.distributed`` cluster, chosen
with :func:`scheduler`. Needs the extra ``scale``.

Functions
---------
connected_components
    Labels merged across chunk borders (global ids, cc3d's numbering).
label_properties
    Per-label size, centroid and box, reduced across chunks.
threshold_mask, fill_holes, segment_threshold
    Manual or Otsu threshold (whole volume or per slice, after an optional
    Gaussian), 3D hole filling, and the whole threshold segmentation as
    chunked labels: the results of :mod:`engine.segment`, voxel for voxel.
connect
    The network through connecting objects (search regions, edge pieces
    merged across chunks, touches and crossings): the same nodes, edges
    and edge ids as :func:`engine.network.connect`.
search_regions
    Each node grown by the search radius (nearest wins) as a lazy volume.
skeletonize
    TEASAR or thinning skeletons, one object's box per task (never cut at
    chunk borders): the same graph as :func:`engine.skeleton.skeletonize`.
store_ome_zarr
    Write a lazy result to an OME-Zarr chunk by chunk, atomically.
scheduler
    Run on threads, processes, a local cluster with a memory limit, or a
    ``dask.distributed`` scheduler at an address.
predict_proba, predict
    A trained :class:`~engine.segment.PixelClassifier`'s probability and
    mask as lazy arrays, equal to its in-memory prediction.
"""

from ._scheduler import parse_memory, scheduler
from ._store import store_ome_zarr
from .labels import ChunkedLabels, connected_components, label_properties
from .network import connect, search_regions
from .segment import (
    fill_holes,
    predict,
    predict_proba,
    segment_threshold,
    threshold_mask,
)
from .skeleton import skeletonize

__all__ = ["ChunkedLabels", "connect", "connected_components", "fill_holes",
           "label_properties", "parse_memory", "predict", "predict_proba", "scheduler",
           "search_regions", "segment_threshold", "skeletonize", "store_ome_zarr", "threshold_mask"]
