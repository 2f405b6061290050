"""connect() recovers the exact network of ground-truth phantoms
(tests/phantoms.py): no missing and no false edge, on every spacing."""

import numpy as np
import pytest

import engine.network._pieces as pieces_module
from engine.network import connect
from phantoms import make_close_pair_phantom, make_phantom

CASES = {
    "isotropic": dict(shape=(96, 96, 96), n_nodes=40, seed=1),
    "dz=3dx": dict(shape=(48, 160, 160), n_nodes=40, seed=2, spacing=(3.0, 1.0, 1.0)),
    "dz=5dx": dict(shape=(32, 160, 160), n_nodes=30, seed=6, spacing=(5.0, 1.0, 1.0)),
    "dz=2dx, dy=dx/2": dict(shape=(48, 128, 128), n_nodes=30, seed=7, spacing=(1.0, 0.5, 0.5)),
    "sparse uint64 ids": dict(shape=(80, 80, 80), n_nodes=25, seed=3, label_ids="sparse"),
    "2D": dict(shape=(1, 256, 256), n_nodes=60, seed=4),
    "large search": dict(shape=(96, 96, 96), n_nodes=30, seed=5, search=6.0),
}


def edge_set(net):
    return {(int(a), int(b)) for a, b in zip(net.edges.node_a, net.edges.node_b)}


@pytest.fixture(scope="module", params=list(CASES))
def phantom(request):
    return make_phantom(**CASES[request.param])


def test_recovers_the_true_network(phantom):
    net = connect(phantom.nodes, phantom.edges, search=phantom.search, spacing=phantom.spacing)
    assert edge_set(net) == phantom.true_edges
    assert set(int(v) for v in net.nodes.label) == set(int(v) for v in phantom.labels)


def test_same_result_with_threads_and_thin_slabs(phantom, monkeypatch):
    kwargs = dict(search=phantom.search, spacing=phantom.spacing)
    one = connect(phantom.nodes, phantom.edges, workers=1, **kwargs)
    monkeypatch.setattr(pieces_module, "SLAB_PLANES", 3)   # objects span many slabs
    many = connect(phantom.nodes, phantom.edges, workers=2, keep_edge_labels=True, **kwargs)
    assert one.edges.equals(many.edges)
    # Each edge id of the table names one connected object of the label volume.
    ids = set(int(i) for i in many.edges.edge_id) - {0}
    present = set(np.unique(many.edge_labels).tolist()) - {0}
    assert ids <= present | {i for i in ids if i > max(present, default=0)}


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 1.0, 1.0), (1.0, 0.5, 0.5)])
def test_vessels_passing_one_voxel_apart_are_not_merged(spacing):
    phantom = make_close_pair_phantom(spacing)
    net = connect(phantom.nodes, phantom.edges, search=phantom.search, spacing=phantom.spacing)
    assert edge_set(net) == phantom.true_edges == {(1, 2), (3, 4)}
