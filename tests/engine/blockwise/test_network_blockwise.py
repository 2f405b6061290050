"""The blockwise network equals the in-memory network.

The in-memory ``engine.network.connect`` recovers the exact ground truth of
the phantoms (tests/engine/network/test_connect_phantoms.py); here the
chunked path must give the same node table (bit for bit), the same edge
table (pairs and edge ids) and the same edge-object volume, on the
phantoms, the 512^3 phantom and the real frog demo, for several chunk
shapes including chunks smaller than the objects.
"""

import numpy as np
import pandas as pd
import pytest

from engine import blockwise, datasets, network
from phantoms import make_phantom

CASES = {
    "isotropic": dict(shape=(96, 96, 96), n_nodes=40, seed=1),
    "dz=3dx": dict(shape=(48, 160, 160), n_nodes=40, seed=2, spacing=(3.0, 1.0, 1.0)),
    "dz=2dx, dy=dx/2": dict(shape=(48, 128, 128), n_nodes=30, seed=7, spacing=(1.0, 0.5, 0.5)),
    "sparse uint64 ids": dict(shape=(80, 80, 80), n_nodes=25, seed=3, label_ids="sparse"),
    "2D": dict(shape=(1, 256, 256), n_nodes=60, seed=4),
    "large search": dict(shape=(96, 96, 96), n_nodes=30, seed=5, search=6.0),
}
# node balls are 8-14 voxels across: (9, 11, 13) cuts every one of them
CHUNKS = [(9, 11, 13), (32, 24, 40)]


def assert_same_network(got, expected):
    pd.testing.assert_frame_equal(got.nodes, expected.nodes, check_exact=True)
    pd.testing.assert_frame_equal(got.edges, expected.edges, check_exact=True)


@pytest.fixture(scope="module", params=list(CASES))
def phantom(request):
    return make_phantom(**CASES[request.param])


@pytest.mark.parametrize("chunks", CHUNKS)
def test_phantom_network_equals_in_memory(phantom, chunks):
    kwargs = dict(search=phantom.search, spacing=phantom.spacing)
    expected = network.connect(phantom.nodes, phantom.edges, keep_edge_labels=True, **kwargs)
    got = blockwise.connect(phantom.nodes, phantom.edges, chunks=chunks,
                            keep_edge_labels=True, **kwargs)
    assert_same_network(got, expected)
    assert {(int(a), int(b)) for a, b in got.graph.edges} == phantom.true_edges
    assert np.array_equal(got.edge_labels.compute(), expected.edge_labels)


def test_trunks_and_bridge_equal_in_memory():
    phantom = make_phantom((64, 80, 80), 24, seed=11)
    kwargs = dict(search=phantom.search, spacing=phantom.spacing, trunks=3, bridge=1.5)
    expected = network.connect(phantom.nodes, phantom.edges, keep_edge_labels=True, **kwargs)
    got = blockwise.connect(phantom.nodes, phantom.edges, chunks=(20, 17, 30),
                            keep_edge_labels=True, **kwargs)
    assert_same_network(got, expected)
    assert np.array_equal(got.edge_labels.compute(), expected.edge_labels)


@pytest.mark.slow
def test_512_cubed_phantom_equals_in_memory():
    phantom = make_phantom((512, 512, 512), 1600, seed=0)
    kwargs = dict(search=phantom.search, spacing=phantom.spacing)
    expected = network.connect(phantom.nodes, phantom.edges, **kwargs)
    assert len(expected.edges) > 1300
    for chunks in [(128, 128, 128), (200, 96, 160)]:
        assert_same_network(
            blockwise.connect(phantom.nodes, phantom.edges, chunks=chunks, **kwargs), expected)


@pytest.mark.slow
@pytest.mark.parametrize("chunks", [(40, 100, 90), (136, 235, 250)])
def test_frog_demo_network_equals_in_memory(chunks):
    nodes, edges, spacing = datasets.frog_network_inputs()
    expected = network.connect(nodes, edges, search=3.0, spacing=spacing)
    got = blockwise.connect(nodes, edges, search=3.0, spacing=spacing, chunks=chunks)
    assert_same_network(got, expected)
    assert got.graph.has_edge(2, 4)          # the optic nerve: brain - retina


def test_zarr_inputs_on_a_local_cluster(tmp_path):
    from engine.io import write_ome_zarr

    phantom = make_phantom((40, 64, 64), 12, seed=8)
    write_ome_zarr(tmp_path / "nodes.zarr", phantom.nodes, chunks=(16, 32, 32))
    write_ome_zarr(tmp_path / "edges.zarr", phantom.edges, chunks=(16, 32, 32))
    expected = network.connect(phantom.nodes, phantom.edges, search=phantom.search)
    seen = []
    with blockwise.scheduler("processes", memory_limit="1.5GB", workers=2) as client:
        assert client is not None and len(client.scheduler_info()["workers"]) == 2
        got = blockwise.connect(tmp_path / "nodes.zarr", tmp_path / "edges.zarr",
                                search=phantom.search, progress=lambda d, t: seen.append(t))
    assert_same_network(got, expected)
    assert seen == [12] * 24   # 3 x 2 x 2 chunks, per chunk: node measures, then links


@pytest.mark.parametrize("chunks", [(9, 11, 13), (48, 40, 64)])
def test_search_regions_equal_in_memory(phantom, chunks):
    expected = network.search_regions(phantom.nodes, search=phantom.search,
                                      spacing=phantom.spacing)
    got = blockwise.search_regions(phantom.nodes, search=phantom.search,
                                   spacing=phantom.spacing, chunks=chunks)
    assert np.array_equal(got.compute(), expected)


def test_in_memory_functions_dispatch_zarr_inputs(tmp_path):
    from engine.io import write_ome_zarr
    from engine.label import label_properties

    phantom = make_phantom((40, 64, 64), 12, seed=8)
    write_ome_zarr(tmp_path / "nodes.zarr", phantom.nodes, chunks=(16, 32, 32))
    expected = network.connect(phantom.nodes, phantom.edges, search=phantom.search)
    got = network.connect(tmp_path / "nodes.zarr", phantom.edges, search=phantom.search)
    assert_same_network(got, expected)
    pd.testing.assert_frame_equal(label_properties(str(tmp_path / "nodes.zarr")),
                                  label_properties(phantom.nodes), check_exact=True)
