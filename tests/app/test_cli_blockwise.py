"""``plexus network``, ``segment`` and ``label`` on zarr volumes, run blockwise.

Each blockwise run is compared with the in-memory command on the same
data written as tif: the same files, byte for byte, and the same labels.
"""

import json

import numpy as np
import pandas as pd
import pytest
from phantoms import make_phantom
from segment_data import load_nuclei, nuclei_scribbles

from app import cli_blockwise
from app.cli import main
from engine import io

pytest.importorskip("dask")


def run(*argv):
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def phantom(tmp_path_factory):
    """The phantom as tifs and as OME-Zarr, and the in-memory command's results."""
    folder = tmp_path_factory.mktemp("phantom")
    ph = make_phantom((48, 64, 64), 12, seed=1, spacing=(2.0, 1.0, 1.0))
    for name, volume in (("nodes", ph.nodes), ("edges", ph.edges)):
        io.write_tif(folder / f"{name}.tif", volume, spacing=ph.spacing)
        io.write_ome_zarr(folder / f"{name}.zarr", volume, spacing=ph.spacing,
                          chunks=(16, 32, 32))
    assert run("network", folder / "nodes.tif", folder / "edges.tif", "--search", ph.search,
               "--out", folder / "memory", "--quiet") == 0
    return folder, ph


def same_results(out, reference):
    for name in ("edges.csv", "nodes.csv", "node_table.csv", "stats.json"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_network_on_zarr_equals_the_in_memory_command(phantom, tmp_path, capsys):
    folder, ph = phantom
    out = tmp_path / "zarr"
    assert run("network", folder / "nodes.zarr", folder / "edges.zarr", "--search", ph.search,
               "--chunks", "16,24,24", "--scheduler", "threads", "--out", out) == 0
    captured = capsys.readouterr()
    assert "chunks" in captured.err                     # the progress bar, per chunk
    assert "nodes" in captured.out and str(out) in captured.out
    same_results(out, folder / "memory")
    assert json.loads((out / "stats.json").read_text())["spacing"] == [2.0, 1.0, 1.0]
    found = pd.read_csv(out / "edges.csv")
    assert {(int(a), int(b)) for a, b in zip(found.node_a, found.node_b)} == ph.true_edges


def test_network_on_a_local_cluster_with_a_tif_and_a_zarr(phantom, tmp_path):
    folder, ph = phantom
    out = tmp_path / "cluster"
    assert run("network", folder / "nodes.tif", folder / "edges.zarr", "--search", ph.search,
               "--memory-limit", "1GB", "--workers", "2", "--out", out, "--quiet") == 0
    same_results(out, folder / "memory")


def test_a_blockwise_option_alone_runs_tifs_blockwise(phantom, tmp_path, monkeypatch):
    folder, ph = phantom
    called = []
    original = cli_blockwise.run_network
    monkeypatch.setattr(cli_blockwise, "run_network",
                        lambda *a: called.append(1) or original(*a))
    out = tmp_path / "sync"
    assert run("network", folder / "nodes.tif", folder / "edges.tif", "--search", ph.search,
               "--scheduler", "synchronous", "--spacing", "2,1,1", "--out", out,
               "--quiet") == 0
    assert called
    same_results(out, folder / "memory")


@pytest.fixture(scope="module")
def nuclei_crop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nuclei")
    image, truth, spacing = load_nuclei()
    crop = (slice(14, 46), slice(0, 96), slice(16, 112))
    image, truth = np.ascontiguousarray(image[crop]), np.ascontiguousarray(truth[crop])
    io.write_tif(folder / "crop.tif", image, spacing=spacing)
    io.write_ome_zarr(folder / "crop.zarr", image, spacing=spacing, chunks=(16, 48, 48))
    return folder, image, truth, spacing


@pytest.mark.parametrize("options", [
    ("--method", "threshold", "--threshold", 9000, "--min-size", 5, "--max-size", 400),
    ("--method", "otsu", "--smooth", 0.4, "--per-slice", "--no-fill"),
])
def test_segment_zarr_equals_the_in_memory_command(nuclei_crop, tmp_path, options):
    folder, _image, _truth, spacing = nuclei_crop
    assert run("segment", folder / "crop.tif", *options, "--out", tmp_path / "memory.tif",
               "--quiet") == 0
    expected, _ = io.read_labels(tmp_path / "memory.tif")
    assert expected.max() >= 3
    out = tmp_path / "labels.zarr"
    assert run("segment", folder / "crop.zarr", *options, "--chunks", "16,32,32",
               "--out", out, "--quiet") == 0
    labels, read_spacing = io.read_zarr(out)
    assert read_spacing == pytest.approx(spacing)
    assert labels.dtype == np.uint32 and np.array_equal(labels[...], expected)
    attrs = json.loads((out / ".zattrs").read_text())
    assert attrs["multiscales"][0]["type"] == "stride"  # written as labels
    # zarr in, tif out: the output format follows the name
    assert run("segment", folder / "crop.zarr", *options, "--out", tmp_path / "back.tif",
               "--quiet") == 0
    assert np.array_equal(io.read_labels(tmp_path / "back.tif")[0], expected)


def test_segment_with_a_saved_classifier(nuclei_crop, tmp_path):
    from engine.segment import PixelClassifier

    folder, image, truth, spacing = nuclei_crop
    scribbles = nuclei_scribbles(truth)
    model = tmp_path / "forest.joblib"
    PixelClassifier(sigmas=[0.5, 1.0], features=["gaussian", "gradient"], n_estimators=8,
                    n_jobs=1).fit(image, scribbles, spacing=spacing).save(model)
    options = ("--method", "rf", "--model", model, "--min-size", 5, "--quiet")
    assert run("segment", folder / "crop.tif", *options, "--out", tmp_path / "memory.tif") == 0
    expected, _ = io.read_labels(tmp_path / "memory.tif")
    assert expected.max() >= 3
    assert run("segment", folder / "crop.zarr", *options, "--out", tmp_path / "rf.zarr") == 0
    assert np.array_equal(io.read_zarr(tmp_path / "rf.zarr")[0][...], expected)


def test_label_command(phantom, tmp_path, capsys):
    from engine.label import connected_components, label_properties
    from engine.segment import filter_by_volume

    folder, ph = phantom
    out = tmp_path / "vessels.zarr"
    assert run("label", folder / "edges.zarr", out, "--connectivity", "6", "--min-volume", 20,
               "--chunks", "16,24,24", "--scheduler", "processes", "--workers", "2") == 0
    assert "objects" in capsys.readouterr().out
    labels, spacing = io.read_zarr(out)
    assert spacing == (2.0, 1.0, 1.0)
    expected = filter_by_volume(connected_components(ph.edges, connectivity=6)[0],
                                spacing=spacing, min_volume=20)
    assert expected.max() >= 2 and np.array_equal(labels[...], expected)
    table = pd.read_csv(tmp_path / "vessels.csv")
    assert list(table.columns[:6]) == ["label", "z", "y", "x", "voxels", "volume"]
    reference = label_properties(expected, spacing=spacing)
    assert table.label.tolist() == reference.label.tolist()
    assert np.allclose(table[["z", "y", "x", "volume"]], reference[["z", "y", "x", "volume"]])


@pytest.mark.parametrize("argv, message", [
    (("network", "{d}/notes.txt", "{e}", "--search", 2), "neither a tif file nor a zarr"),
    (("network", "{d}", "{e}", "--search", 2), "is a folder but not a zarr store"),
    (("network", "{n}", "{e}", "--search", 2, "--memory-limit", "lots"),
     "--memory-limit must be a positive size"),
    (("network", "{n}", "{e}", "--search", 2, "--memory-limit", "1GB",
      "--scheduler", "tcp://127.0.0.1:1"), "--memory-limit applies to a local cluster"),
    (("network", "{n}", "{e}", "--search", 2, "--scheduler", "gpu"),
     "--scheduler must be threads, processes, synchronous"),
    (("network", "{n}", "{e}", "--search", 2, "--scheduler", "synchronous",
      "--memory-limit", "1GB"), "--memory-limit needs --scheduler threads or processes"),
    (("network", "{n}", "{e}", "--search", 2, "--workers", 0), "--workers must be at least 1"),
    (("segment", "{i}", "--split", 3), "--split is not available"),
    (("segment", "{i}", "--method", "cellpose"), "--method cellpose is not available"),
    (("segment", "{i}", "--method", "rf", "--scribbles", "{n}"), "--scribbles is not available"),
    (("label", "{i}", "{d}/float.zarr"), "must hold integer labels"),
])
def test_bad_input_is_one_clear_line(phantom, nuclei_crop, tmp_path, capsys, argv, message):
    folder, _ = phantom
    (tmp_path / "notes.txt").write_text("not an image")
    values = {"d": tmp_path, "e": folder / "edges.zarr", "n": folder / "nodes.zarr",
              "i": nuclei_crop[0] / "crop.zarr"}
    argv = [str(a).format(**values) for a in argv]
    if argv[0] == "label":
        io.write_ome_zarr(tmp_path / "float.zarr", np.ones((4, 4, 4), np.float32))
        argv[1] = str(tmp_path / "float.zarr")
        argv[2] = str(tmp_path / "out.zarr")
    else:
        argv += ["--out", str(tmp_path / "out" / "x.zarr"), "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("plexus: error:") and message in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_scheduler_nobody_runs(phantom, tmp_path, capsys, monkeypatch):
    pytest.importorskip("distributed")
    folder, ph = phantom
    monkeypatch.setattr(cli_blockwise, "CONNECT_TIMEOUT", 1)
    assert run("network", folder / "nodes.zarr", folder / "edges.zarr", "--search", ph.search,
               "--scheduler", "tcp://127.0.0.1:9", "--out", tmp_path / "out", "--quiet") == 2
    err = capsys.readouterr().err
    assert err.startswith("plexus: error: --scheduler tcp://127.0.0.1:9: no Dask scheduler")
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
