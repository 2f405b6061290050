"""The ``plexus`` command line, end to end on tif files."""

import json
import shutil
import subprocess
import sys

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from phantoms import make_phantom

from app.cli import main
from engine import io


@pytest.fixture(scope="module")
def phantom_tifs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tifs")
    ph = make_phantom((40, 120, 120), 25, seed=21, spacing=(3.0, 1.0, 1.0))
    io.write_tif(folder / "nodes.tif", ph.nodes, spacing=ph.spacing)
    io.write_tif(folder / "vessels.tif", ph.edges, spacing=ph.spacing)
    return folder, ph


def read_pairs(out):
    table = pd.read_csv(out / "edges.csv")
    return table, {(int(a), int(b)) for a, b in zip(table.node_a, table.node_b)}


def test_network_command_writes_the_documented_files(phantom_tifs, tmp_path, capsys):
    folder, ph = phantom_tifs
    out = tmp_path / "net"
    code = main(["network", str(folder / "nodes.tif"), str(folder / "vessels.tif"),
                 "--search", str(ph.search), "--out", str(out), "--quiet"])
    assert code == 0
    table, found = read_pairs(out)
    assert list(table.columns) == ["node_a", "node_b", "edge_id"]
    assert (table.node_a < table.node_b).all()
    assert found == ph.true_edges            # spacing (3, 1, 1) read from the tif
    nodes = pd.read_csv(out / "nodes.csv")
    assert list(nodes.columns) == ["label", "z", "y", "x", "voxels", "volume"]
    assert set(nodes.label) == {int(v) for v in ph.labels}
    assert np.allclose(nodes.volume, nodes.voxels * 3.0)
    stats = json.loads((out / "stats.json").read_text())
    assert stats["n_edges"] == len(ph.true_edges)
    assert stats["spacing"] == [3.0, 1.0, 1.0]
    graph = nx.read_graphml(out / "network.graphml", node_type=int)
    assert {tuple(sorted(e)) for e in graph.edges} == ph.true_edges
    assert capsys.readouterr().err == ""     # --quiet: no progress bar


def test_spacing_option_overrides_the_file(phantom_tifs, tmp_path):
    folder, ph = phantom_tifs
    out = tmp_path / "iso"
    main(["network", str(folder / "nodes.tif"), str(folder / "vessels.tif"),
          "--search", str(ph.search), "--spacing", "1,1,1", "--out", str(out), "--quiet"])
    stats = json.loads((out / "stats.json").read_text())
    assert stats["spacing"] == [1.0, 1.0, 1.0]
    nodes = pd.read_csv(out / "nodes.csv")
    assert np.allclose(nodes.volume, nodes.voxels)


def test_proximity_command(phantom_tifs, tmp_path):
    folder, ph = phantom_tifs
    out = tmp_path / "knn"
    assert main(["proximity", str(folder / "nodes.tif"), "--k", "2", "--out", str(out),
                 "--excel", "--quiet"]) == 0
    table, found = read_pairs(out)
    degrees = pd.Series([a for a, _ in found] + [b for _, b in found]).value_counts()
    assert degrees.min() >= 2                 # every node linked to its 2 nearest
    assert (out / "network.xlsx").exists()


@pytest.mark.parametrize("make_bad, message", [
    (lambda d: d / "missing.tif", "missing.tif"),
    (lambda d: (d / "notes.tif").write_text("not an image") and d / "notes.tif", "notes.tif"),
    (lambda d: io.write_tif(d / "float.tif", np.full((3, 4, 4), 1.5, np.float32))
     or d / "float.tif", "floating-point"),
])
def test_bad_input_is_one_clear_line(phantom_tifs, tmp_path, capsys, make_bad, message):
    folder, ph = phantom_tifs
    bad = make_bad(tmp_path)
    code = main(["network", str(bad), str(folder / "vessels.tif"), "--search", "2",
                 "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("plexus: error:") and message in err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "edges.csv").exists()


def test_bad_spacing_and_radius(phantom_tifs, tmp_path, capsys):
    folder, _ = phantom_tifs
    nodes = str(folder / "nodes.tif")
    assert main(["proximity", nodes, "--radius", "2", "--spacing", "0,1,1",
                 "--out", str(tmp_path)]) == 2
    assert "spacing values must all be > 0" in capsys.readouterr().err
    assert main(["network", nodes, str(folder / "vessels.tif"), "--search", "-1",
                 "--out", str(tmp_path)]) == 2
    assert "search must be >= 0" in capsys.readouterr().err


def test_console_script_is_installed(tmp_path):
    exe = shutil.which("plexus") or str(__import__("pathlib").Path(sys.executable).parent / "plexus")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("plexus ")


def test_demo_command_on_the_frog(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert any("brain" in line and "eye_retina" in line for line in printed.splitlines())
    _, found = read_pairs(out)
    assert (2, 4) in found and (6, 10) in found      # optic nerve; hepatic vessels
    for name in ("nodes.csv", "node_table.csv", "stats.json", "network.graphml",
                 "network.xlsx", "nodes.tif", "edge_objects.tif"):
        assert (out / name).stat().st_size > 0
    labels, spacing = io.read_labels(out / "edge_objects.tif")
    assert spacing == (1.5, 1.0, 1.0)
    table = pd.read_csv(out / "edges.csv")
    outer_ids = {int(i) for i in table.edge_id} & set(np.unique(labels).tolist())
    assert outer_ids                                  # table ids name objects of the volume
