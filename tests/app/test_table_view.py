"""Node and edge tables: selection both ways, downloads, exact big ids."""

import io

import numpy as np
import openpyxl
import pandas as pd
import panel as pn
import pytest
from bokeh.document import Document
from pyviz_comms import Comm

from app.tables import TableView, exact_ids, page_of
from app.workspace import Workspace
from engine.network import Network

# Nodes 1..12 (two per name's initial letter would be confusing: one name
# each); edges chain them 1-2-...-11 with a double link 1-2; node 12 alone.
NAMES = {k: f"organ_{k:02d}" for k in range(1, 13)}
PAIRS = [(1, 2), (1, 2)] + [(k, k + 1) for k in range(2, 11)]
BIG = 2**60


def chain_network(offset=0):
    labels = np.arange(1, 13, dtype=np.uint64) + np.uint64(offset)
    nodes = pd.DataFrame({
        "label": labels, "z": np.arange(12.0), "y": np.arange(12.0) * 2, "x": np.arange(12.0) * 3,
        "voxels": np.arange(1, 13) * 5, "volume": np.arange(1, 13) * 10.0,
    })
    edges = pd.DataFrame({
        "node_a": np.array([a for a, _ in PAIRS], np.uint64) + np.uint64(offset),
        "node_b": np.array([b for _, b in PAIRS], np.uint64) + np.uint64(offset),
        "edge_id": np.arange(50, 50 + len(PAIRS), dtype=np.uint64) + np.uint64(offset),
    })
    return Network(nodes=nodes, edges=edges, spacing=(1.0, 1.0, 1.0))


def workspace(offset=0):
    ws = Workspace(names={k + offset: v for k, v in NAMES.items()})
    ws.set_network(chain_network(offset))
    return ws


def widgets(layout):
    nodes, edges = layout.select(pn.widgets.Tabulator)
    return nodes, edges


def test_tables_hold_the_nodes_and_the_named_edges():
    ws = workspace()
    view = TableView(workspace=ws)
    pd.testing.assert_frame_equal(view.node_frame(), ws.node_table)
    edges = view.edge_frame()
    assert list(edges.columns) == ["node_a", "name_a", "node_b", "name_b", "edge_id", "length"]
    assert len(edges) == len(PAIRS)
    first = edges.iloc[0]
    assert (first.node_a, first.name_a, first.node_b, first.name_b) == (1, "organ_01", 2, "organ_02")
    # Centroids (k, 2k, 3k): neighbours are sqrt(1 + 4 + 9) apart.
    np.testing.assert_allclose(edges["length"], np.sqrt(14.0))


def test_workspace_selection_selects_the_row_and_turns_the_page():
    ws = workspace()
    view = TableView(workspace=ws, page_size=5)
    nodes, _ = widgets(view.panel())
    assert nodes.pagination == "remote" and nodes.page_size == 5 and nodes.header_filters
    ws.select(9)                                    # row 8: the second page
    assert view.node_selection == [8]
    assert nodes.selection == [8] and nodes.page == 2
    ws.select(2)
    assert nodes.selection == [1] and nodes.page == 1
    # Sorted by label descending, node 2 is the 11th row: page 3.
    nodes.sorters = [{"field": "label", "dir": "desc"}]
    ws.select(12)
    ws.select(2)
    assert nodes.page == 3 and nodes.selection == [1]
    ws.select(None)
    assert view.node_selection == [] and nodes.selection == []


def test_choosing_a_row_selects_its_node():
    ws = workspace()
    view = TableView(workspace=ws)
    nodes, edges = widgets(view.panel())
    nodes.selection = [4]                           # what a click in the browser sets
    assert ws.selected == 5 and ws.cursor == ws.centroid_voxel(5)
    nodes.selection = []                            # deselecting clears the selection
    assert ws.selected is None
    row = view.edge_frame().index[(view.edge_frame().node_a == 3)][0]
    edges.selection = [int(row)]                    # an edge row selects its first node
    assert ws.selected == 3
    assert view.node_selection == [2] and nodes.selection == [2]
    assert edges.selection == [int(row)]            # still one of its nodes: kept
    ws.select(4)                                    # node_b of the same edge: kept
    assert edges.selection == [int(row)]
    ws.select(9)                                    # elsewhere: the edge row clears
    assert view.edge_selection == [] and edges.selection == []
    assert ws.selected == 9


def test_csv_downloads_parse_back_to_the_tables():
    view = TableView(workspace=workspace())
    nodes = pd.read_csv(io.BytesIO(view.nodes_csv()))
    pd.testing.assert_frame_equal(nodes, view.node_frame(), check_dtype=False)
    edges = pd.read_csv(io.BytesIO(view.edges_csv()))
    pd.testing.assert_frame_equal(edges, view.edge_frame(), check_dtype=False)


def test_excel_download_reads_back_equal():
    view = TableView(workspace=workspace())
    book = openpyxl.load_workbook(io.BytesIO(view.excel()))
    assert book.sheetnames == ["nodes", "edges"]
    for sheet, frame in (("nodes", view.node_frame()), ("edges", view.edge_frame())):
        rows = list(book[sheet].values)
        assert list(rows[0]) == list(frame.columns)
        assert len(rows) == len(frame) + 1
        for got, want in zip(rows[1:], frame.itertuples(index=False)):
            assert got == pytest.approx(tuple(want))


def test_big_ids_survive_display_and_downloads():
    ws = workspace(offset=BIG)
    view = TableView(workspace=ws)
    shown = view.node_display()
    assert shown["label"].tolist() == [str(BIG + k) for k in range(1, 13)]
    assert view.edge_display()["edge_id"].iloc[0] == str(BIG + 50)
    assert view.node_display()["degree"].dtype.kind == "i"      # small ints stay numbers
    csv = pd.read_csv(io.BytesIO(view.nodes_csv()))
    assert [int(v) for v in csv["label"]] == [BIG + k for k in range(1, 13)]
    book = openpyxl.load_workbook(io.BytesIO(view.excel()))
    assert book["nodes"]["A2"].value == str(BIG + 1)
    # The Bokeh model sent to the browser carries the exact text.
    nodes, _ = widgets(view.panel())
    model = nodes.get_root(Document(), Comm())
    assert list(model.source.data["label"][:2]) == [str(BIG + 1), str(BIG + 2)]
    nodes.selection = [11]
    assert ws.selected == BIG + 12
    ws.select(BIG + 2)                # its neighbour id rounds to the same double
    assert view.node_selection == [1] and nodes.selection == [1]
    assert view.node_row(-1) is None and view.node_row(2**64) is None


def test_exact_ids_and_page_of():
    frame = pd.DataFrame({"a": np.array([1, 2**53], np.uint64), "b": np.array([1, 2**53 + 1])})
    shown = exact_ids(frame)
    assert shown["a"].dtype.kind == "u" and shown["b"].tolist() == ["1", "9007199254740993"]
    assert frame["b"].dtype.kind == "i"                  # the input is left alone
    index = pd.Index([7, 3, 5, 1, 0])
    assert [page_of(index, row, 2) for row in (7, 5, 1, 0)] == [1, 2, 2, 3]
    assert page_of(index, 4, 2) is None


def test_panels_build_bokeh_models_and_follow_the_network():
    ws = Workspace(names=dict(NAMES))
    view = TableView(workspace=ws)
    layout = view.panel()
    root = layout.get_root(Document(), Comm())
    nodes, edges = widgets(layout)
    assert len(nodes.value) == 0 and len(edges.value) == 0
    assert pd.read_csv(io.BytesIO(view.edges_csv())).columns[0] == "node_a"
    downloads = layout.select(pn.widgets.FileDownload)
    assert [d.filename for d in downloads] == [
        "network_nodes.csv", "network_edges.csv", "network.xlsx"]
    ws.set_network(chain_network())
    assert len(nodes.value) == 12 and len(edges.value) == len(PAIRS)
    tables = [m for m in root.references() if type(m).__name__ == "DataTabulator"]
    assert len(tables) == 2 and {t.pagination for t in tables} == {"remote"}
    assert {len(t.source.data["label"]) for t in tables if "label" in t.source.data} == {12}
    ws.select(3)
    assert nodes.selection == [2]
    # The download callback hands Panel the same bytes.
    file = downloads[0].callback()
    assert file.read() == view.nodes_csv()
