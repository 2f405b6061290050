"""Tests of the ground-truth phantom generator (tests/phantoms.py).

A small reference implementation of "network through connecting objects"
(scipy only, straight from the definition) checks that each phantom's stored
truth is exactly what the definition gives at the stored search radius.
"""

import numpy as np
import pytest
from scipy import ndimage

from phantoms import capsule_voxels, make_close_pair_phantom, make_phantom

CUBE = np.ones((3, 3, 3), bool)


def search_regions(nodes, search, spacing):
    """Voronoi search regions: nearest node within ``search`` (physical)."""
    dist, ind = ndimage.distance_transform_edt(nodes == 0, sampling=spacing, return_indices=True)
    region = nodes[tuple(ind)]
    region[dist > search] = 0
    return region


def reference_network(nodes, edges, search, spacing):
    """Edge set straight from the definition (26-connected pieces, no dilation)."""
    region = search_regions(nodes, search, spacing)
    vessel = edges > 0
    pieces, n = ndimage.label(vessel & (region == 0), CUBE)
    links = set()
    for k, sl in enumerate(ndimage.find_objects(pieces), start=1):
        pad = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in sl)
        grown = ndimage.binary_dilation(pieces[pad] == k, CUBE)
        links |= _pairs(region[pad][grown])
    # a vessel running straight from one region into a neighbouring one
    zyx = vessel.shape
    for off in [o for o in np.ndindex(3, 3, 3) if o > (1, 1, 1)]:
        d = np.array(off) - 1
        a = tuple(slice(max(0, -di), zyx[i] - max(0, di)) for i, di in enumerate(d))
        b = tuple(slice(max(0, di), zyx[i] - max(0, -di)) for i, di in enumerate(d))
        ra, rb = region[a], region[b]
        hit = vessel[a] & vessel[b] & (ra != 0) & (rb != 0) & (ra != rb)
        for x, y in set(zip(ra[hit].tolist(), rb[hit].tolist())):
            links.add((min(x, y), max(x, y)))
    return links


def nettracer_model(nodes, edges, search, spacing):
    """NetTracer3D's steps: outer pieces and thick region borders on the vessels,
    each dilated 3x3x3, labelled 6-connected; a piece links the regions it overlaps."""
    from skimage.segmentation import find_boundaries

    region = search_regions(nodes, search, spacing)
    vessel = edges > 0
    outer = ndimage.binary_dilation(vessel & (region == 0), CUBE)
    inner = ndimage.binary_dilation(find_boundaries(region, mode="thick") & vessel, CUBE)
    pieces, _ = ndimage.label(outer | inner)
    links = set()
    for k, sl in enumerate(ndimage.find_objects(pieces), start=1):
        links |= _pairs(region[sl][pieces[sl] == k])
    return links


def _pairs(values):
    labs = sorted(int(v) for v in np.unique(values) if v)
    return {(a, b) for i, a in enumerate(labs) for b in labs[i + 1:]}


CASES = {
    "iso": dict(shape=(96, 96, 96), n_nodes=40, seed=1),
    "aniso": dict(shape=(48, 160, 160), n_nodes=40, seed=2, spacing=(3.0, 1.0, 1.0)),
    "sparse": dict(shape=(80, 80, 80), n_nodes=25, seed=3, label_ids="sparse"),
    "2d": dict(shape=(1, 256, 256), n_nodes=60, seed=4),
    "big_search": dict(shape=(96, 96, 96), n_nodes=30, seed=5, search=6.0),
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    return request.param, make_phantom(**CASES[request.param])


def test_nodes_and_labels(case):
    name, ph = case
    n = CASES[name]["n_nodes"]
    present = np.unique(ph.nodes)
    assert present[0] == 0 and len(present) == n + 1
    assert set(present[1:].tolist()) == set(ph.labels.tolist())
    if name == "sparse":
        assert ph.nodes.dtype == np.uint64 and ph.labels.max() > 2**32
    else:
        assert ph.nodes.dtype == np.uint8 and set(ph.labels.tolist()) == set(range(1, n + 1))
    assert ph.edges.dtype == np.uint8 and set(np.unique(ph.edges).tolist()) == {0, 1}
    assert ph.search == CASES[name].get("search", 3.0 * max(CASES[name].get("spacing", (1, 1, 1))))


def test_vessels_and_truth_are_consistent(case):
    _, ph = case
    kinds = [v["kind"] for v in ph.vessels]
    assert kinds.count("tube") >= 5 and kinds.count("y") >= 1
    assert set(ph.true_edges) == {(a, b) for a, b, _, _ in ph.edge_table()}
    assert all(a < b for a, b in ph.true_edges)
    for v in ph.vessels:
        if v["kind"] == "y":  # three arms from one junction
            assert len(v["nodes"]) == 3 and len(v["segments"]) == 3
            assert all(np.array_equal(s[0], v["segments"][0][0]) for s in v["segments"])


def test_each_vessel_overlaps_exactly_its_nodes(case):
    _, ph = case
    union = np.zeros(ph.edges.shape, bool)
    for k, v in enumerate(ph.vessels):
        mask = ph.vessel_mask(k)
        assert set(np.unique(ph.nodes[mask]).tolist()) - {0} == set(v["nodes"])
        union |= mask
    assert np.array_equal(union, ph.edges > 0)


def test_vessels_never_touch_outside_search_regions(case):
    """Outside the search regions every 26-connected piece belongs to one vessel,
    and still does after a 3x3x3 dilation (NetTracer3D's step, 6-connected
    labelling). A vessel may leave a few voxel slivers where two regions nearly
    meet; those belong to it alone too."""
    _, ph = case
    outer = (ph.edges > 0) & (search_regions(ph.nodes, ph.search, ph.spacing) == 0)
    owner = np.zeros(ph.edges.shape, np.int32)
    for k in range(len(ph.vessels)):
        m = ph.vessel_mask(k) & outer
        assert not np.any(owner[m]), "two vessels share voxels outside the search regions"
        owner[m] = k + 1
    for pieces in (ndimage.label(outer, CUBE)[0], ndimage.label(ndimage.binary_dilation(outer, CUBE))[0]):
        for k, sl in enumerate(ndimage.find_objects(pieces), start=1):
            assert len(np.unique(owner[sl][(pieces[sl] == k) & outer[sl]])) == 1


def test_reference_network_recovers_truth(case):
    _, ph = case
    assert reference_network(ph.nodes, ph.edges, ph.search, ph.spacing) == ph.true_edges
    # NetTracer3D's one-voxel dilation adds nothing on these phantoms
    assert nettracer_model(ph.nodes, ph.edges, ph.search, ph.spacing) == ph.true_edges


def test_beside_vessels_pass_close_to_a_third_node(case):
    name, ph = case
    h = max(ph.spacing[1:]) if ph.nodes.shape[0] == 1 else max(ph.spacing)
    beside = [v for v in ph.vessels if v["beside"] is not None]
    if name in ("iso", "2d"):
        assert beside
    where = {int(lab): i for i, lab in enumerate(ph.labels)}
    for v in beside:
        (p0, p1), = v["segments"]
        i = where[v["beside"]]
        t = np.clip((ph.centers[i] - p0) @ (p1 - p0) / ((p1 - p0) @ (p1 - p0)), 0, 1)
        gap = np.linalg.norm(p0 + t * (p1 - p0) - ph.centers[i]) - ph.vessel_radius - ph.radii[i]
        assert ph.search + 2 * h < gap < ph.search + 4 * h
        assert v["beside"] not in v["nodes"]


def test_deterministic_by_seed():
    a = make_phantom((64, 64, 64), 15, seed=7)
    b = make_phantom((64, 64, 64), 15, seed=7)
    c = make_phantom((64, 64, 64), 15, seed=8)
    assert np.array_equal(a.nodes, b.nodes) and np.array_equal(a.edges, b.edges)
    assert a.true_edges == b.true_edges
    assert not np.array_equal(a.nodes, c.nodes)


def test_anisotropic_balls_span_fewer_slices():
    ph = make_phantom(**CASES["aniso"])
    dz = ph.spacing[0]
    for sl, lab in zip(ndimage.find_objects(ph.nodes.astype(np.int32)), range(1, 41)):
        i = list(ph.labels).index(lab)
        nz, ny = sl[0].stop - sl[0].start, sl[1].stop - sl[1].start
        assert nz <= int(2 * ph.radii[i] / dz) + 1 and ny >= 2 * int(ph.radii[i]) - 1
    # vessel radius is raised to keep tubes 26-connected at dz = 3
    assert ph.vessel_radius > 0.5 * np.linalg.norm(ph.spacing)


def test_2d_discs_and_tubes():
    ph = make_phantom(**CASES["2d"])
    assert ph.nodes.shape == (1, 256, 256) and np.all(ph.centers[:, 0] == 0)
    _, n = ndimage.label(ph.nodes[0] > 0, np.ones((3, 3)))
    assert n == 60


def test_capsule_voxels_single_chain():
    idx = capsule_voxels((3.0, 4.0, 5.0), (30.0, 20.0, 40.0), 1.7, (3.0, 1.0, 1.0), (20, 30, 50))
    mask = np.zeros((20, 30, 50), bool)
    mask[idx] = True
    assert ndimage.label(mask, CUBE)[1] == 1


def test_clearances_hold_at_scale():
    """A denser phantom: rules hold (checked by the definition) and Y's exist."""
    ph = make_phantom((128, 128, 128), 60, seed=11, node_radius=(3.0, 6.0))
    assert len(ph.vessels) >= 20
    assert reference_network(ph.nodes, ph.edges, ph.search, ph.spacing) == ph.true_edges
    assert nettracer_model(ph.nodes, ph.edges, ph.search, ph.spacing) == ph.true_edges


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 1.0, 1.0), (1.0, 0.5, 0.5)])
def test_close_pair(spacing):
    ph = make_close_pair_phantom(spacing)
    assert ph.true_edges == {(1, 2), (3, 4)}
    region = search_regions(ph.nodes, ph.search, ph.spacing)
    outer = (ph.edges > 0) & (region == 0)
    assert ndimage.label(outer, CUBE)[1] == 2  # not touching (26-connectivity)
    assert ndimage.label(ndimage.binary_dilation(outer, CUBE))[1] == 1  # one-voxel dilation merges
    assert reference_network(ph.nodes, ph.edges, ph.search, ph.spacing) == ph.true_edges
    merged = nettracer_model(ph.nodes, ph.edges, ph.search, ph.spacing)
    assert merged == {(1, 2), (3, 4), (1, 3), (1, 4), (2, 3), (2, 4)}
