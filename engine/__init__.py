"""Plexus engine: from label volumes to networks of objects.

The engine is plain functions and small classes over numpy arrays. Its
subpackages load on first use, so ``import engine`` stays light:

>>> import engine
>>> engine.network  # doctest: +SKIP
<module 'engine.network' ...>

Subpackages
-----------
io        tif reading and writing with voxel spacing, tables and graphs.
label     connected components and per-label properties.
network   networks through connecting objects or by proximity; statistics.
segment   thresholds, random-forest pixel classification, Cellpose 3D, stitching.
datasets  the embedded demo data (no download).
"""

import importlib

from ._errors import InvalidInputError, PlexusError, MissingExtraError

__version__ = "0.1.0"

_SUBPACKAGES = ("io", "label", "network", "segment", "skeleton", "connectome", "mesh", "buckets",
                "sheets", "neuroglancer", "datasets", "blockwise")

__all__ = ["PlexusError", "InvalidInputError", "MissingExtraError", *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'engine' has no attribute {name!r}")
