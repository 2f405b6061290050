"""Blockwise connected components and properties equal the in-memory ones.

Ground truth is engine.label on the whole volume (cc3d), itself tested
against scipy; here the chunked path must give the same ids voxel for
voxel and the same property table bit for bit, whatever the chunks.
"""

import numpy as np
import pandas as pd
import pytest

from engine import blockwise
from engine import InvalidInputError
from engine.label import connected_components, label_properties

CHUNKS = [(7, 5, 6), (3, 40, 2), (16, 16, 16), (64, 64, 64)]


@pytest.fixture(scope="module")
def blobs():
    """Random blobs: many objects cross chunk borders, some diagonally only."""
    from scipy import ndimage

    rng = np.random.default_rng(4)
    noise = ndimage.gaussian_filter(rng.random((30, 37, 41)), 1.2)
    return noise > np.quantile(noise, 0.7)


@pytest.mark.parametrize("connectivity", [6, 18, 26])
@pytest.mark.parametrize("chunks", CHUNKS)
def test_labels_equal_whole_volume(blobs, connectivity, chunks):
    truth, n = connected_components(blobs, connectivity=connectivity)
    chunked = blockwise.connected_components(blobs, connectivity=connectivity, chunks=chunks)
    assert chunked.n == n
    assert np.array_equal(chunked.to_dask().compute(), truth)
    pd.testing.assert_frame_equal(
        chunked.properties(spacing=(2.0, 1.0, 0.5)),
        label_properties(truth, spacing=(2.0, 1.0, 0.5)), check_exact=True)


@pytest.mark.parametrize("chunks", [(1, 1, 1), (2, 3, 1)])
def test_single_voxel_chunks_see_diagonal_neighbours(chunks):
    # a chain touching only corner to corner: one object with 26, five with 6
    mask = np.zeros((5, 5, 5), bool)
    for k in range(5):
        mask[k, k, k] = True
    assert blockwise.connected_components(mask, chunks=chunks).n == 1
    assert blockwise.connected_components(mask, connectivity=18, chunks=chunks).n == 5
    assert blockwise.connected_components(mask, connectivity=6, chunks=chunks).n == 5


def test_label_input_never_merges_different_values():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, (20, 24, 18)).astype(np.uint16)
    truth, n = connected_components(labels)
    chunked = blockwise.connected_components(labels, chunks=(5, 7, 4))
    assert chunked.n == n
    assert np.array_equal(chunked.to_dask().compute(), truth)


def test_filter_by_volume_equals_segment_filter(blobs):
    from engine.segment import filter_by_volume

    truth, _ = connected_components(blobs)
    expected = filter_by_volume(truth, spacing=(2, 1, 1), min_volume=40, max_volume=400)
    kept = blockwise.connected_components(blobs, chunks=(8, 9, 10)).filter_by_volume(
        spacing=(2, 1, 1), min_volume=40, max_volume=400)
    assert kept.n_kept == int(expected.max()) > 0
    assert np.array_equal(kept.to_dask().compute(), expected)


def test_sparse_uint64_properties_with_intensity():
    rng = np.random.default_rng(2)
    labels = (rng.integers(0, 30, (24, 30, 26)).astype(np.uint64) * np.uint64(2**41))
    image = rng.random(labels.shape)
    truth = label_properties(labels, spacing=(3, 1, 1), image=image)
    got = blockwise.label_properties(labels, spacing=(3, 1, 1), image=image)
    pd.testing.assert_frame_equal(got.drop(columns="mean_intensity"),
                                  truth.drop(columns="mean_intensity"), check_exact=True)
    # sums run in chunk order: equal to rounding
    np.testing.assert_allclose(got.mean_intensity, truth.mean_intensity, rtol=1e-12)


def test_zarr_path_input_and_store(tmp_path, blobs):
    from engine.io import read_zarr, write_ome_zarr

    write_ome_zarr(tmp_path / "mask.zarr", blobs.view(np.uint8), spacing=(2, 1, 1),
                   chunks=(8, 16, 16))
    chunked = blockwise.connected_components(tmp_path / "mask.zarr")
    assert chunked.chunks[0][0] == 8          # the zarr's own chunks
    seen = []
    blockwise.store_ome_zarr(tmp_path / "labels.zarr", chunked.to_dask(), spacing=(2, 1, 1),
                             labels=True, levels=2, progress=lambda d, t: seen.append((d, t)))
    stored, spacing = read_zarr(tmp_path / "labels.zarr")
    assert spacing == (2.0, 1.0, 1.0)
    assert np.array_equal(stored[...], connected_components(blobs)[0])
    assert seen[-1][0] == seen[-1][1] == len(seen)   # one step per chunk
    assert read_zarr(tmp_path / "labels.zarr", level=1)[0].shape == (30, 19, 21)


def test_progress_per_chunk_and_cancel(blobs):
    seen = []
    blockwise.connected_components(blobs, chunks=(15, 37, 41), progress=lambda d, t: seen.append((d, t)))
    assert seen == [(1, 2), (2, 2)]

    def cancel(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        blockwise.connected_components(blobs, chunks=(5, 37, 41), progress=cancel)


def test_bad_inputs_name_the_argument(tmp_path):
    with pytest.raises(InvalidInputError, match="connectivity"):
        blockwise.connected_components(np.ones((2, 2, 2), bool), connectivity=8)
    with pytest.raises(InvalidInputError, match="chunks"):
        blockwise.connected_components(np.ones((2, 2, 2), bool), chunks=(0, 1, 1))
    with pytest.raises(InvalidInputError, match="volume"):
        blockwise.connected_components(np.ones((2, 2, 2, 2), bool))
    with pytest.raises(Exception, match="does not exist"):
        blockwise.connected_components(tmp_path / "missing.zarr")
    with pytest.raises(InvalidInputError, match="memory_limit"):
        with blockwise.scheduler("threads", memory_limit="lots"):
            pass
    with pytest.raises(InvalidInputError, match="scheduler"):
        with blockwise.scheduler("gpu"):
            pass


def test_runs_on_a_cluster_given_by_its_address(blobs):
    from distributed import LocalCluster

    truth, n = connected_components(blobs)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                      dashboard_address=None) as cluster:
        seen = []
        with blockwise.scheduler(cluster.scheduler_address) as client:
            assert client.scheduler.address == cluster.scheduler_address
            chunked = blockwise.connected_components(
                blobs, chunks=(10, 37, 41), progress=lambda d, t: seen.append(d))
            labels = chunked.to_dask().compute()
    assert seen == [1, 2, 3]
    assert np.array_equal(labels, truth)
    with pytest.raises(InvalidInputError, match="memory_limit"):
        with blockwise.scheduler("tcp://127.0.0.1:1", memory_limit="1GB"):
            pass
