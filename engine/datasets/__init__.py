"""Embedded demo data: real volumes that need no download.

>>> from engine.datasets import frog_tissues  # doctest: +SKIP
>>> frog = frog_tissues()  # doctest: +SKIP
>>> frog.tissue_names[12]  # doctest: +SKIP
'nerve'

Functions
---------
frog_tissues
    Whole-frog tissue segmentation (from pyvista, extra ``demo``).
frog_network_inputs
    The same split into organs (nodes) and vessels/nerves (edges).
"""

from ._frog import Demo, frog_network_inputs, frog_tissues

__all__ = ["Demo", "frog_tissues", "frog_network_inputs"]
