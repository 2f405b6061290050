"""write_table / write_graphml / write_json: each file read back equals
what was written, in types every other tool can read."""

import json
import math
import sys

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from engine import InvalidInputError, MissingExtraError
from engine.io import write_graphml, write_json, write_table


@pytest.fixture
def edges():
    return pd.DataFrame(
        {
            "node_a": np.array([1, 2, 2**40], np.uint64),
            "node_b": [2, 3, 4],
            "length": [1.5, np.nan, 3.25],
            "identity": ["vessel", "nerve", "vessel"],
        }
    )


def test_csv(tmp_path, edges):
    path = tmp_path / "edges.csv"
    write_table(edges, path)
    back = pd.read_csv(path, dtype={"node_a": np.uint64})
    pd.testing.assert_frame_equal(back, edges)


def test_excel(tmp_path, edges):
    pytest.importorskip("openpyxl")
    path = tmp_path / "edges.XLSX"
    small = edges.assign(node_a=edges.node_a.astype(np.int64))  # Excel has no uint64
    write_table(small, path)
    back = pd.read_excel(path)
    pd.testing.assert_frame_equal(back, small)


def test_parquet(tmp_path, edges):
    pytest.importorskip("pyarrow")
    path = tmp_path / "edges.parquet"
    write_table(edges, path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), edges)


@pytest.mark.parametrize(
    ("suffix", "module", "extra"),
    [(".parquet", "pyarrow", "parquet"), (".xlsx", "openpyxl", "excel")],
)
def test_missing_optional_library_names_the_extra(
    tmp_path, edges, monkeypatch, suffix, module, extra
):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` fail
    with pytest.raises(MissingExtraError, match=rf"{module}.*plexus3d\[{extra}\]"):
        write_table(edges, tmp_path / f"t{suffix}")
    assert list(tmp_path.iterdir()) == []


def test_bad_table_arguments(tmp_path, edges):
    with pytest.raises(InvalidInputError, match=r"\.csv, \.xlsx or \.parquet"):
        write_table(edges, tmp_path / "edges.txt")
    with pytest.raises(InvalidInputError, match="DataFrame"):
        write_table({"a": [1]}, tmp_path / "edges.csv")


def test_graphml_converts_what_graphml_cannot_hold(tmp_path):
    g = nx.Graph(name="frog", spacing=(1.5, 1.0, 1.0))
    big = np.uint64(2**40)
    g.add_node(big, centroid=np.array([1.0, 2.0, 3.0]), volume=np.int64(12), community=None)
    g.add_node(7, centroid=(4, 5, 6), volume=3.5, community=np.int32(1), flag=np.bool_(True))
    g.add_edge(big, 7, edge_ids=[10, 11], weight=np.float32(2.0), meta={"a": np.int8(1)})
    before = dict(g.nodes[7])
    path = tmp_path / "net.graphml"
    write_graphml(g, path)
    back = nx.read_graphml(path, node_type=int)
    assert back.graph["name"] == "frog" and back.graph["spacing"] == "1.5;1.0;1.0"
    assert back.nodes[2**40] == {"centroid": "1.0;2.0;3.0", "volume": 12.0}
    assert back.nodes[7] == {"centroid": "4;5;6", "volume": 3.5, "community": 1, "flag": True}
    assert back.edges[2**40, 7] == {"edge_ids": "10;11", "weight": 2.0, "meta": '{"a": 1}'}
    assert g.nodes[7] == before  # the caller's graph is not changed


def test_graphml_multigraph_and_mixed_types(tmp_path):
    g = nx.MultiGraph()
    g.add_edge(1, 2, key=0, label="a", n=1)
    g.add_edge(1, 2, key=1, label=5, n=True)
    path = tmp_path / "multi.graphml"
    write_graphml(g, path)
    back = nx.read_graphml(path, node_type=int, force_multigraph=True)
    assert back.number_of_edges(1, 2) == 2
    assert sorted(d["label"] for *_, d in back.edges(data=True)) == ["5", "a"]
    assert sorted(d["n"] for *_, d in back.edges(data=True)) == [1, 1]
    with pytest.raises(InvalidInputError, match="networkx"):
        write_graphml({1: 2}, path)


def test_json(tmp_path):
    obj = {
        "mean": np.float64("nan"),
        "max": float("inf"),
        "count": np.int64(3),
        "ok": np.bool_(True),
        "ids": np.array([[1, 2], [3, 4]], np.uint32),
        "lengths": np.array([1.5, np.nan]),
        np.int64(5): ("a", None),
        "path": tmp_path,
    }
    path = tmp_path / "stats.json"
    write_json(obj, path)
    back = json.loads(path.read_text(encoding="utf-8"))
    assert back == {
        "mean": None, "max": None, "count": 3, "ok": True, "ids": [[1, 2], [3, 4]],
        "lengths": [1.5, None], "5": ["a", None], "path": str(tmp_path),
    }
    assert "NaN" not in path.read_text()


def test_json_refuses_unknown_objects(tmp_path):
    with pytest.raises(InvalidInputError, match="object"):
        write_json({"x": object()}, tmp_path / "x.json")
    assert not (tmp_path / "x.json").exists()


def test_json_keeps_unicode_and_compact_form(tmp_path):
    path = tmp_path / "u.json"
    write_json({"unit": "µm", "v": math.pi}, path, indent=None)
    assert path.read_text(encoding="utf-8") == '{"unit": "µm", "v": 3.141592653589793}'
