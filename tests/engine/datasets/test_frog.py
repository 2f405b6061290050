"""The embedded frog tissues: shape, spacing, names that match the
anatomy visible in the data, and the nodes/edges split."""

import importlib.util

import numpy as np
import pytest
from scipy import ndimage as ndi

from engine import InvalidInputError, MissingExtraError
from engine.datasets import Demo, frog_network_inputs, frog_tissues
from engine.datasets import _frog

NAMED = {
    1: "blood", 2: "brain", 3: "duodenum", 4: "eye_retina", 5: "eye_white",
    6: "heart", 7: "ileum", 8: "kidney", 9: "l_intestine", 10: "liver",
    11: "lung", 12: "nerve", 13: "skeleton", 14: "spleen", 15: "stomach",
}


@pytest.fixture(scope="module")
def frog():
    pytest.importorskip("pyvista")  # only to know the extra is installed
    return frog_tissues()


def test_shape_dtype_spacing(frog):
    assert isinstance(frog, Demo)
    assert frog.labels.shape == (136, 470, 500)
    assert frog.labels.dtype == np.uint8
    assert frog.spacing == (1.5, 1.0, 1.0)


def test_labels_are_shared_and_read_only(frog):
    assert frog_tissues().labels is frog.labels
    with pytest.raises(ValueError):
        frog.labels[0, 0, 0] = 1


def test_names_cover_every_label_present(frog):
    present = set(np.unique(frog.labels).tolist()) - {0}
    assert set(frog.tissue_names) == present
    for label, name in frog.tissue_names.items():
        assert name == NAMED.get(label, f"tissue_{label}")
    assert set(NAMED) <= present
    frog.tissue_names[1] = "changed"  # a copy: the next call is unaffected
    assert frog_tissues().tissue_names[1] == "blood"


def big_parts(labels, label, n):
    """Sizes and centroids (z, y, x) of the n largest components of a label."""
    box = ndi.find_objects((labels == label).view(np.uint8))[0]
    mask = labels[box] == label
    parts, _ = ndi.label(mask)
    sizes = np.bincount(parts.ravel())[1:]
    order = np.argsort(sizes)[::-1][:n] + 1
    centres = np.array(ndi.center_of_mass(mask, parts, order))
    return sizes[order - 1], centres + [s.start for s in box]


@pytest.mark.slow
def test_names_match_the_anatomy(frog):
    labels = frog.labels
    brain = np.array(ndi.center_of_mass(labels == 2))
    for eye_part in (4, 5):  # two eyes, beside each other, next to the brain
        sizes, centres = big_parts(labels, eye_part, 3)
        assert sizes[1] > 0.5 * sizes[0] and sizes[2] < 0.1 * sizes[1]
        assert abs(centres[0, 1] - centres[1, 1]) > 40  # left and right
        assert np.all(np.abs(centres[:2, 2] - brain[2]) < 40)
    sizes, lungs = big_parts(labels, 11, 3)  # two lungs, heart between
    assert sizes[1] > 0.5 * sizes[0] and sizes[2] < 0.05 * sizes[1]
    heart = np.array(ndi.center_of_mass(labels == 6))
    assert min(lungs[:, 1]) < heart[1] < max(lungs[:, 1])
    assert np.all(np.abs(lungs[:2, 2] - heart[2]) < 20)
    counts = np.bincount(labels.ravel())
    organs = [i for i in range(1, 16) if i not in (1, 12, 13)]
    assert max(organs, key=counts.__getitem__) == 10  # liver
    assert min(organs, key=counts.__getitem__) == 14  # spleen
    assert counts.argmax() == 0 and np.argsort(counts)[-2] == 13  # skeleton


def test_network_inputs(frog):
    nodes, edges, spacing = frog_network_inputs()
    assert spacing == (1.5, 1.0, 1.0)
    assert nodes.shape == edges.shape == frog.labels.shape
    assert nodes.dtype == edges.dtype == np.uint8
    assert not np.any((nodes > 0) & (edges > 0))
    np.testing.assert_array_equal(edges.astype(bool), np.isin(frog.labels, (1, 12)))
    np.testing.assert_array_equal(nodes[edges == 0], frog.labels[edges == 0])
    assert set(np.unique(nodes).tolist()) == set(frog.tissue_names) - {1, 12} | {0}
    nodes[0, 0, 0] = 99  # new arrays, the cache is untouched
    assert frog_tissues().labels[0, 0, 0] != 99


def test_network_inputs_with_other_connectors(frog):
    nodes, edges, _ = frog_network_inputs(vessels=(1,), nerves=())
    assert int(edges.sum()) == int(np.count_nonzero(frog.labels == 1))
    assert np.any(nodes == 12)
    with pytest.raises(InvalidInputError, match="nerves.*99"):
        frog_network_inputs(nerves=(99,))
    with pytest.raises(InvalidInputError, match="vessels"):
        frog_network_inputs(vessels="blood")


def test_missing_pyvista_names_the_extra(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyvista" else real(name, *a)
    )
    _frog._load.cache_clear()
    try:
        with pytest.raises(MissingExtraError, match=r"pip install 'plexus3d\[demo\]'"):
            frog_tissues()
    finally:
        _frog._load.cache_clear()
