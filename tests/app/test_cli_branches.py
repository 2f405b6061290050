"""``plexus branches`` on a synthetic tree with known geometry."""

import networkx as nx
import numpy as np
import pandas as pd
from vessel_phantoms import curved_tree

from app.cli import main
from engine import io


def test_branches_command_writes_the_four_results(tmp_path, capsys):
    sp = (2.0, 0.7, 0.7)
    tree = curved_tree(sp)
    mask = tree.mask()
    io.write_tif(tmp_path / "mask.tif", mask.astype(np.uint8), spacing=sp)
    out = tmp_path / "out"
    assert main(["branches", str(tmp_path / "mask.tif"), "--out", str(out)]) == 0
    assert "7 branches, 3 junctions" in capsys.readouterr().out

    branches = pd.read_csv(out / "branches.csv")
    assert list(branches.columns[:7]) == ["branch_id", "node_a", "node_b", "length", "euclidean",
                                          "tortuosity", "mean_radius"]
    assert len(branches) == 7
    total = sum(s.length for s in tree.segments) + 4 * 2.5  # + four tip caps of radius 2.5
    assert abs(branches["length"].sum() / total - 1) < 0.02

    nodes = pd.read_csv(out / "junctions.csv")
    assert list(nodes.columns[:5]) == ["node", "z", "y", "x", "degree"]
    junctions = nodes[nodes["degree"] == 3][["z", "y", "x"]].to_numpy()
    for p in tree.junctions.values():  # physical units, within one tube radius
        assert np.linalg.norm(junctions - p, axis=1).min() < 2.5

    labels, spacing = io.read_labels(out / "branch_labels.tif")
    assert np.allclose(spacing, sp)
    assert np.array_equal(labels > 0, mask)
    assert set(np.unique(labels[labels > 0])) == set(branches["branch_id"])

    g = nx.read_graphml(out / "network.graphml", node_type=int)
    assert g.number_of_nodes() == len(nodes) and g.number_of_edges() == 7
    lengths = sorted(d["length"] for *_, d in g.edges(data=True))
    assert np.allclose(lengths, sorted(branches["length"]))


def test_spacing_option_and_label_selection(tmp_path, capsys):
    tree = curved_tree((1.0, 1.0, 1.0))
    vol = tree.mask().astype(np.uint16) * 5
    vol[2:6, 2:6, 2:30] = 9  # a second object, not asked for
    io.write_tif(tmp_path / "labels.tif", vol)
    out = tmp_path / "o"
    assert main(["branches", str(tmp_path / "labels.tif"), "--labels", "5", "--spacing", "1,1,1",
                 "--out", str(out), "--quiet"]) == 0
    labels, _ = io.read_labels(out / "branch_labels.tif")
    assert labels[vol == 9].max() == 0 and (labels[vol == 5] > 0).all()
    assert len(pd.read_csv(out / "branches.csv")) == 7


def test_bad_input_names_the_problem(tmp_path, capsys):
    assert main(["branches", str(tmp_path / "missing.tif"), "--out", str(tmp_path / "o")]) == 2
    assert "missing.tif" in capsys.readouterr().err
    io.write_tif(tmp_path / "m.tif", np.ones((4, 4, 4), np.uint8))
    assert main(["branches", str(tmp_path / "m.tif"), "--labels", "3",
                 "--out", str(tmp_path / "o")]) == 2
    assert "no label [3]" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
