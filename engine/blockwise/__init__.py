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
"""

from .labels import ChunkedLabels, connected_components, label_properties

__all__ = ["ChunkedLabels", "connected_components", "label_properties"]
