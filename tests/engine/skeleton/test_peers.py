"""engine.skeleton against its peers: skan on the frog's vessels and nerves,
navis on its example neurons (bench/skeleton_agreement.py prints the same
comparison as a table).

skan (blood 1 and nerve 12 of pyvista's frog, spacing (1.5, 1, 1)): Plexus
skeletonises each tissue once; skan then measures the SAME skeleton, given
either as Plexus's graph (same vertices, same edges) or as its vertices
rasterised into a boolean image (skan rebuilds the edges by 26-adjacency).

navis (``navis.example_neurons()``, shipped inside navis): cable length and
branch points of each neuron through ``osteoid.Skeleton.from_navis``.
"""

import numpy as np
import pytest

from engine.skeleton import (
    Branches,
    SkeletonGraph,
    cable_length,
    from_osteoid,
    skeletonize,
)

# navis 1.12 calls DataFrame.set_index(inplace=...), deprecated in pandas 3
pytestmark = pytest.mark.filterwarnings("ignore:The inplace keyword")

TISSUES = {"blood": 1, "nerve": 12}
_OFFSETS = np.array([(a, b, c) for a in (-1, 0, 1) for b in (-1, 0, 1) for c in (-1, 0, 1) if (a, b, c) > (0, 0, 0)])


def _voxels(graph):
    sp = np.asarray(graph.spacing, float)
    idx = np.round(graph.vertices / sp).astype(np.int64)
    return idx, np.abs(idx * sp - graph.vertices).max()


def _unjoined_neighbours(graph, idx):
    """Vertex pairs that are 26-neighbour voxels but not joined by an edge."""
    lo = idx.min(0) - 1
    dims = idx.max(0) - lo + 2
    key = np.ravel_multi_index((idx - lo).T, dims)
    order = np.argsort(key)
    edges = {tuple(sorted(e)) for e in graph.edges.tolist()}
    out = 0
    for off in _OFFSETS:
        k = np.ravel_multi_index((idx + off - lo).T, dims)
        pos = np.clip(np.searchsorted(key[order], k), 0, len(k) - 1)
        hit = key[order][pos] == k
        out += sum(tuple(sorted(p)) not in edges for p in zip(np.nonzero(hit)[0].tolist(), order[pos[hit]].tolist()))
    return out


def _junction_vertices(graph):
    return int((np.bincount(graph.edges.ravel(), minlength=len(graph)) >= 3).sum())


def _cluster_edges(branches):
    """Edges inside junction clusters: the graph's edges that lie on no branch path."""
    return len(branches.graph.edges) - sum(len(p) - 1 for p in branches.paths)


def _skan_table(skel):
    import skan

    df = skan.summarize(skel, separator="_")
    return len(df), float(df["branch_distance"].sum()), int((np.asarray(skel.degrees) >= 3).sum())


# ---------------------------------------------------------------- skan, frog


@pytest.fixture(scope="module")
def frog():
    pytest.importorskip("pyvista")  # the frog ships inside pyvista
    from engine import datasets

    return datasets.frog_tissues()


@pytest.fixture(scope="module", params=list(TISSUES), ids=list(TISSUES))
def tissue(request, frog):
    mask = frog.labels == TISSUES[request.param]
    g = skeletonize(mask, frog.spacing)
    return mask, g, Branches(g, smooth=0)


@pytest.mark.slow  # real data (the frog)
def test_skan_on_plexus_graph(tissue):
    """Same vertices and edges: skan's total length is the sum of the edges
    (rtol 1e-9: the same float64 sums in another order), and its branches are
    Plexus's plus one per edge inside a junction cluster. Plexus merges
    adjacent junction vertices into one junction; skan keeps each junction
    pixel, so each such edge is a junction-junction branch of its own."""
    pytest.importorskip("skan")
    from scipy import sparse
    from skan.csr import PathGraph

    _, g, raw = tissue
    n, e, w = len(g), g.edges, g.edge_lengths()
    adj = sparse.csr_array((np.r_[w, w], (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])), shape=(n, n))
    sp = np.asarray(g.spacing)
    branches, length, junctions = _skan_table(PathGraph.from_graph(adj=adj, node_coordinates=g.vertices / sp,
                                                                   spacing=sp))
    assert length == pytest.approx(cable_length(g), rel=1e-9)
    assert branches == len(raw.table) + _cluster_edges(raw)
    assert junctions == _junction_vertices(g)
    # Plexus's own raw total differs from the plain edge sum only by routing a
    # cluster's branches through its centre (a few voxel sizes over the tissue)
    assert raw.cable_length() == pytest.approx(length, rel=0.005)


@pytest.mark.slow  # real data (the frog)
def test_skan_on_rasterised_skeleton(tissue):
    """skan on Plexus's vertices as an image (what a user holding only a
    skeleton image would run). Tolerances:

    * total length within 1% of Plexus raw: both sum the same voxel steps;
      they differ by the centre routing of junction clusters (above) and by
      the edges skan builds itself (measured: about 0.1%);
    * branch count within 3 per unjoined neighbour pair: the image loses
      kimimaro's edge list, so voxels 26-adjacent but apart along the path
      (staircase corners) get joined, and skan then cuts the cycles among
      junction pixels (minimum spanning tree). skan's branch count is half
      the degree sum of the pixels of degree != 2, and one added or removed
      edge changes that by at most 3 (no more are removed than added).
    """
    pytest.importorskip("skan")
    import skan

    mask, g, raw = tissue
    idx, off = _voxels(g)
    assert off == 0.0  # kimimaro's vertices lie on voxel centres
    img = np.zeros(mask.shape, bool)
    img[tuple(idx.T)] = True
    assert img.sum() == len(g)  # one vertex per voxel
    branches, length, _ = _skan_table(skan.Skeleton(img, spacing=np.asarray(g.spacing)))
    assert length == pytest.approx(raw.cable_length(), rel=0.01)
    graph_branches = len(raw.table) + _cluster_edges(raw)
    assert abs(branches - graph_branches) <= 3 * _unjoined_neighbours(g, idx)


@pytest.mark.slow  # real data (the frog)
def test_smoothing_keeps_topology_and_only_shortens(tissue):
    """The smoothed lengths are shorter (staircase and voxel-scale zigzag
    removed: about -16% on these 1-3 voxel thick tubes, see
    bench/skeleton_agreement.py and its calibration phantom) and the branches
    are the same."""
    _, g, raw = tissue
    smooth = Branches(g)
    assert len(smooth.table) == len(raw.table)
    assert len(smooth.junctions) == len(raw.junctions)
    assert 0.75 * raw.cable_length() < smooth.cable_length() < raw.cable_length()


# ---------------------------------------------------------------- navis


@pytest.fixture(scope="module")
def neurons():
    navis = pytest.importorskip("navis")
    pytest.importorskip("osteoid")
    return list(navis.example_neurons())


def test_navis_cable_length(neurons):
    """Plexus's cable length of each navis neuron, through osteoid, equals
    navis's. navis stores it as float32 (relative precision 6e-8, plus its
    float32 sum), hence rtol 1e-6; against a float64 sum of the node-to-parent
    distances, and a SkeletonGraph built directly from ``n.nodes``, the
    agreement is to rounding (rtol 1e-12)."""
    import osteoid

    for n in neurons:
        nodes = n.nodes
        xyz = nodes[["x", "y", "z"]].to_numpy(np.float64)
        row_of = dict(zip(nodes["node_id"].to_numpy().tolist(), range(len(nodes))))
        child = np.flatnonzero(nodes["parent_id"].to_numpy() >= 0)
        parent = np.array([row_of[p] for p in nodes["parent_id"].to_numpy()[child].tolist()])
        ref64 = np.linalg.norm(xyz[child] - xyz[parent], axis=1).sum()
        plexus = cable_length(osteoid.Skeleton.from_navis(n))
        assert plexus == pytest.approx(float(n.cable_length), rel=1e-6), n.id
        assert plexus == pytest.approx(ref64, rel=1e-12), n.id
        direct = SkeletonGraph(xyz[:, ::-1], np.stack([child, parent], 1), np.ones(len(xyz)),
                               np.ones(len(xyz), np.uint64))
        assert cable_length(direct) == pytest.approx(ref64, rel=1e-12), n.id


def test_navis_branch_points(neurons):
    """navis's branch points are Plexus's junction vertices (degree >= 3)
    exactly, and navis's small segments (branch point or end to the next)
    are Plexus's branches plus the edges inside junction clusters exactly:
    Branches merges adjacent junction vertices into one junction node."""
    import osteoid

    for n in neurons:
        g = from_osteoid(osteoid.Skeleton.from_navis(n))
        raw = Branches(g, smooth=0)
        assert _junction_vertices(g) == n.n_branches, n.id
        assert len(raw.table) + _cluster_edges(raw) == len(n.small_segments), n.id
        # every junction node holds at least one of navis's branch points
        assert len(raw.junctions) <= n.n_branches


def test_navis_junctions_are_branch_nodes(neurons):
    import osteoid

    n = neurons[0]
    g = from_osteoid(osteoid.Skeleton.from_navis(n))
    raw = Branches(g, smooth=0)
    assert len(raw.junctions) == n.n_branches
    assert raw.cable_length() == pytest.approx(float(n.cable_length), rel=1e-6)
