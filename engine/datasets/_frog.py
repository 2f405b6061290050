"""The whole-frog tissue segmentation that ships inside pyvista.

The labels are the tissue indices of VTK's frog example (the Lawrence
Berkeley Laboratory frog, tissue masks merged into one label volume).
The names were checked against the data itself (voxel counts, centroids
in (z, y, x) voxels, connected components, face contacts):

- eye_retina (4) and eye_white (5) each have two large components
  (19,172 + 17,957 and 7,956 + 7,658 voxels; any other piece has at
  most 412) at y ~ 205 and
  y ~ 262, side by side, at x ~ 408, the end of the body where brain (2,
  one component, centroid x ~ 384) lies; retina and white touch over
  8,849 faces, and nothing else touches eye_white.
- lung (11) has two large components (25,274 and 22,154 voxels) at
  y ~ 186 and y ~ 259 with heart (6, centroid y ~ 230, x ~ 266) between
  them at the same x (~ 270); heart touches liver (10) and blood (1).
- liver is the largest organ (204,672 voxels), skeleton (13) the
  largest label (438,052) spanning the whole body, spleen (14) the
  smallest organ (3,891); duodenum (3), ileum (7), large intestine (9)
  and stomach (15) touch each other along the gut.
- blood (1) and nerve (12) are thin, branched and spread through the
  body (194 and 105 components): the connecting objects.

Labels 16, 17, 20, 21, 23, 24, 25, 26, 27 and 29 are also present, with
4 to 252 voxels each, scattered as specks inside the gut and heart
region; they have no name in the VTK example and are called
``tissue_<id>``.
"""

import dataclasses
import functools
import importlib.util
import os

import numpy as np

from .._errors import InvalidInputError, MissingExtraError
from ..io import read_vti

_NAMES = {
    1: "blood", 2: "brain", 3: "duodenum", 4: "eye_retina", 5: "eye_white",
    6: "heart", 7: "ileum", 8: "kidney", 9: "l_intestine", 10: "liver",
    11: "lung", 12: "nerve", 13: "skeleton", 14: "spleen", 15: "stomach",
}


@dataclasses.dataclass(frozen=True)
class Demo:
    """A demo label volume with its spacing and the names of its labels.

    Attributes
    ----------
    labels : ndarray of uint8, shape (z, y, x)
        Read-only (shared by every call); use ``labels.copy()`` to edit.
    spacing : tuple of 3 floats
        (dz, dy, dx).
    tissue_names : dict of int to str
        Name of every label present (0, the background, excluded).
    """

    labels: np.ndarray
    spacing: tuple
    tissue_names: dict


def _frog_path():
    spec = importlib.util.find_spec("pyvista")
    if spec is None or spec.origin is None:
        raise MissingExtraError(
            "the demo data ships inside pyvista, which is not installed; "
            "install it with `pip install 'plexus3d[demo]'`"
        )
    path = os.path.join(os.path.dirname(spec.origin), "examples", "frog_tissues.vti")
    if not os.path.exists(path):
        raise MissingExtraError(
            f"pyvista is installed but has no {path}; install pyvista>=0.44 "
            "with `pip install 'plexus3d[demo]'`"
        )
    return path


@functools.lru_cache(maxsize=1)
def _load():
    labels, spacing = read_vti(_frog_path())
    labels.setflags(write=False)
    present = np.flatnonzero(np.bincount(labels.ravel()))
    names = {int(i): _NAMES.get(int(i), f"tissue_{i}") for i in present if i}
    return labels, spacing, names


def frog_tissues():
    """Load the whole-frog tissue segmentation shipped inside pyvista.

    136 x 470 x 500 voxels of 1.5 x 1 x 1 (z, y, x): organs (brain, eyes,
    heart, lungs, liver, kidney, gut, spleen, skeleton) plus blood vessels
    (label 1) and nerves (label 12) running between them. No download:
    the file is part of pyvista (extra ``demo``), which is not imported.
    The volume is read once per process; every call shares the same
    read-only array.

    Returns
    -------
    Demo
        ``labels`` (uint8, read-only), ``spacing`` (1.5, 1.0, 1.0) and
        ``tissue_names`` (label id -> name, a new dict on each call).

    Raises
    ------
    MissingExtraError
        If pyvista is not installed.

    Examples
    --------
    >>> frog = frog_tissues()  # doctest: +SKIP
    >>> frog.labels.shape, frog.spacing  # doctest: +SKIP
    ((136, 470, 500), (1.5, 1.0, 1.0))
    >>> frog.tissue_names[6]  # doctest: +SKIP
    'heart'
    """
    labels, spacing, names = _load()
    return Demo(labels=labels, spacing=spacing, tissue_names=dict(names))


def _label_ids(ids, name, present):
    try:
        ids = tuple(int(i) for i in ids)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} must be a sequence of label ids, was {ids!r}")
    missing = [i for i in ids if i not in present]
    if missing:
        raise InvalidInputError(
            f"{name} label(s) {missing} are not in the frog tissues; "
            f"present: {sorted(present)}"
        )
    return ids


def frog_network_inputs(*, vessels=(1,), nerves=(12,)):
    """Split the frog tissues into node objects and connecting objects.

    Parameters
    ----------
    vessels, nerves : sequence of int
        Tissue ids that connect organs (default blood 1 and nerve 12).

    Returns
    -------
    nodes : ndarray of uint8, shape (136, 470, 500)
        The tissue labels with every vessel and nerve voxel set to 0; the
        tissue ids are kept as node ids (no relabelling). A new array.
    edges : ndarray of uint8, shape (136, 470, 500)
        1 where a vessel or nerve is, else 0. A new array.
    spacing : tuple of 3 floats
        (1.5, 1.0, 1.0).

    Raises
    ------
    InvalidInputError
        If an id is not a label of the frog tissues.
    MissingExtraError
        If pyvista is not installed.

    Examples
    --------
    >>> nodes, edges, spacing = frog_network_inputs()  # doctest: +SKIP
    >>> bool((nodes.astype(bool) & edges.astype(bool)).any())  # doctest: +SKIP
    False
    """
    labels, spacing, names = _load()
    connecting = _label_ids(vessels, "vessels", names) + _label_ids(
        nerves, "nerves", names
    )
    mask = np.isin(labels, connecting)
    nodes = np.where(mask, np.uint8(0), labels)
    return nodes, mask.view(np.uint8), spacing
