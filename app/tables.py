"""Node, edge and branch tables: sortable, filterable, linked to the selection.

:class:`TableView` is a view-model over a :class:`~app.workspace.Workspace`:
it prepares the two tables, keeps a row selection for each in step with
``workspace.selected``, and produces the CSV and Excel downloads as bytes.
:meth:`TableView.panel` builds the Panel ``Tabulator`` widgets around it.
:class:`BranchTableView` does the same for ``workspace.branches`` (branches,
junctions and ends); choosing a row there moves the cursor to it.

Choices worth knowing:

- Tables use ``pagination="remote"``: only the visible page is sent to the
  browser (measured: 0.02 s for a 200k-row model), sorting and filtering
  run in pandas on the server.
- Bokeh sends numbers to the browser as doubles, which hold integers
  exactly only up to 2**53; uint64 connectomics ids above that are shown
  as text (:func:`exact_ids`). Text sorts character by character, which
  is numeric order for ids of equal length (the usual case for such ids).
  Downloads keep the original integers (CSV) or write them as text (Excel,
  through :func:`engine.io.write_excel`).
- Selecting an edge row selects its **first node** (``node_a``): the
  workspace holds a single selected node. The edge row stays selected
  while the selection is one of its two nodes, and is cleared otherwise.
- Deselecting the node row (ctrl-click) clears the workspace's selection;
  deselecting an edge row does not.
"""

import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import param

from engine.io import write_excel

from .workspace import Workspace

#: Integers above this do not survive the trip through a JavaScript double.
MAX_EXACT_INTEGER = 2**53

#: Order of the leading columns of the edge table.
EDGE_TABLE_COLUMNS = ("node_a", "name_a", "node_b", "name_b", "edge_id", "length")
#: Columns (and dtypes) of ``Branches.table`` and ``Branches.nodes`` (engine.skeleton).
#: An empty table keeps them: a Tabulator keeps the column types it was made with.
BRANCH_TABLE_COLUMNS = {
    "branch_id": np.int64, "node_a": np.int64, "node_b": np.int64, "length": float,
    "euclidean": float, "tortuosity": float, "mean_radius": float, "min_radius": float,
    "label": np.int64, "kind": object, "n_vertices": np.int64,
}
BRANCH_NODE_COLUMNS = {"node": np.int64, "z": float, "y": float, "x": float, "degree": np.int64,
                       "kind": object, "label": np.int64}


def exact_ids(frame):
    """A copy of ``frame`` whose integer columns above 2**53 are text.

    Columns that fit stay numbers (so they sort numerically); a column
    holding any value above 2**53 becomes ``str`` as a whole.

    Examples
    --------
    >>> frame = pd.DataFrame({"label": np.array([3, 2**60 + 1], np.uint64), "n": [1, 2]})
    >>> exact_ids(frame)["label"].tolist(), exact_ids(frame)["n"].tolist()
    (['3', '1152921504606846977'], [1, 2])
    """
    wide = [
        column for column in frame.columns
        if frame[column].dtype.kind in "iu" and len(frame)
        and (int(frame[column].max()) > MAX_EXACT_INTEGER
             or int(frame[column].min()) < -MAX_EXACT_INTEGER)
    ]
    if not wide:
        return frame.copy()
    return frame.assign(**{column: frame[column].astype(str) for column in wide})


def label_mask(labels, label):
    """Boolean mask of the entries of ``labels`` equal to ``label``, exactly.

    The label is first converted to the column's own integer type, so a
    label that arrives as a float (a JavaScript number, say) or in another
    integer type never compares through float64, where neighbouring ids
    above 2**53 are equal. A label the type cannot hold matches nothing.

    Examples
    --------
    >>> ids = np.array([2**60 + 1, 2**60 + 2], np.uint64)
    >>> label_mask(ids, np.int64(2**60 + 2)).tolist(), label_mask(ids, -1).tolist()
    ([False, True], [False, False])
    """
    labels = np.asarray(labels)
    if label is None:
        return np.zeros(labels.shape, bool)
    try:
        label = labels.dtype.type(int(label))
    except (OverflowError, TypeError, ValueError):
        return np.zeros(labels.shape, bool)
    return labels == label


def page_of(view_index, row, page_size):
    """The 1-based page on which ``row`` shows, or None if filtered out.

    Parameters
    ----------
    view_index : pandas.Index
        Index of the table as displayed (after sorting and filtering).
    row : hashable
        Index value of the row.
    page_size : int

    Examples
    --------
    >>> page_of(pd.Index([5, 3, 9, 1]), 9, 2)
    2
    """
    if row not in view_index:
        return None
    return int(view_index.get_loc(row)) // int(page_size) + 1


class TableView(param.Parameterized):
    """View-model of the node and edge tables.

    Parameters
    ----------
    workspace : Workspace
        Shared state; the tables follow ``network``, ``node_table`` and
        ``selected``, and call ``workspace.select`` when a row is chosen.
    page_size : int
        Rows per page.
    node_selection : list of int
        Selected rows (positions in :meth:`node_frame`); at most one.
    edge_selection : list of int
        Selected rows (positions in :meth:`edge_frame`); at most one.
    """

    workspace = param.ClassSelector(class_=Workspace)
    page_size = param.Integer(default=20, bounds=(5, 500))
    node_selection = param.List(default=[], item_type=int)
    edge_selection = param.List(default=[], item_type=int)

    def __init__(self, workspace=None, **params):
        super().__init__(workspace=workspace if workspace is not None else Workspace(), **params)
        # True while the selection is being mirrored from the workspace, so
        # that clearing a row then does not read as the user deselecting.
        self._mirroring = False
        self._edges = None
        self.workspace.param.watch(self._network_changed, ["network", "node_table"])
        self.workspace.param.watch(self._workspace_selected, ["selected"])
        self._workspace_selected()

    # ---------------------------------------------------------------- tables

    def node_frame(self):
        """The workspace's node table (empty when there is no network)."""
        table = self.workspace.node_table
        if table is None:
            return pd.DataFrame({"label": pd.Series(dtype=np.uint64),
                                 "name": pd.Series(dtype=str)})
        return table.reset_index(drop=True)

    def edge_frame(self):
        """One row per connecting object, with both nodes' names.

        Returns
        -------
        pandas.DataFrame
            ``node_a, name_a, node_b, name_b, edge_id, length`` (physical
            distance between the two centroids), then any other column of
            ``network.edges`` (``distance`` for proximity networks).
            Empty when there is no network.
        """
        network = self.workspace.network
        if network is None:
            return pd.DataFrame({c: [] for c in EDGE_TABLE_COLUMNS})
        if self._edges is None or self._edges[0] is not network:
            self._edges = (network, self._build_edge_frame(network))
        return self._edges[1]

    def _build_edge_frame(self, network):
        edges = network.edges.reset_index(drop=True)
        graph = network.graph
        name = self.workspace.label_name
        frame = pd.DataFrame({
            "node_a": edges["node_a"],
            "name_a": [name(a) for a in edges["node_a"]],
            "node_b": edges["node_b"],
            "name_b": [name(b) for b in edges["node_b"]],
            "edge_id": edges["edge_id"],
            "length": [graph.edges[int(a), int(b)]["length"] if graph.has_edge(int(a), int(b))
                       else np.nan for a, b in zip(edges["node_a"], edges["node_b"])],
        })
        rest = [c for c in edges.columns if c not in frame.columns]
        return pd.concat([frame, edges[rest]], axis=1)

    def node_display(self):
        """:meth:`node_frame` as shown: ids above 2**53 as text."""
        return exact_ids(self.node_frame())

    def edge_display(self):
        """:meth:`edge_frame` as shown: ids above 2**53 as text."""
        return exact_ids(self.edge_frame())

    def node_row(self, label):
        """Row position of a node label in :meth:`node_frame`, or None."""
        if label is None:
            return None
        hits = np.flatnonzero(label_mask(self.node_frame()["label"], label))
        return int(hits[0]) if len(hits) else None

    # ------------------------------------------------------------- selection

    def _network_changed(self, *_):
        self._edges = None
        self._workspace_selected()

    def _workspace_selected(self, *_):
        """Mirror ``workspace.selected`` into the row selections."""
        selected = self.workspace.selected
        row = self.node_row(selected)
        keep_edges = []
        if self.edge_selection and selected is not None:
            edges = self.edge_frame()
            row_e = self.edge_selection[0]
            if row_e < len(edges) and int(selected) in (
                    int(edges["node_a"].iloc[row_e]), int(edges["node_b"].iloc[row_e])):
                keep_edges = list(self.edge_selection)
        self._mirroring = True
        try:
            with param.parameterized.batch_call_watchers(self):
                self.node_selection = [] if row is None else [row]
                self.edge_selection = keep_edges
        finally:
            self._mirroring = False

    @param.depends("node_selection", watch=True)
    def _node_rows_chosen(self):
        if self._mirroring:
            return
        if not self.node_selection:
            self.workspace.select(None)
            return
        label = int(self.node_frame()["label"].iloc[self.node_selection[-1]])
        if label != self.workspace.selected:
            self.workspace.select(label)

    @param.depends("edge_selection", watch=True)
    def _edge_rows_chosen(self):
        if self._mirroring or not self.edge_selection:
            return
        label = int(self.edge_frame()["node_a"].iloc[self.edge_selection[-1]])
        if label != self.workspace.selected:
            self.workspace.select(label)

    # ------------------------------------------------------------- downloads

    def nodes_csv(self):
        """The node table as CSV bytes (UTF-8); ids keep every digit."""
        return self.node_frame().to_csv(index=False).encode("utf-8")

    def edges_csv(self):
        """The edge table as CSV bytes (UTF-8); ids keep every digit."""
        return self.edge_frame().to_csv(index=False).encode("utf-8")

    def excel(self):
        """Both tables as one ``.xlsx`` workbook (sheets ``nodes``, ``edges``).

        Written by :func:`engine.io.write_excel`, which stores ids above
        2**53 as text, because Excel keeps numbers as doubles.
        """
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "network.xlsx"
            write_excel({"nodes": self.node_frame(), "edges": self.edge_frame()}, path)
            return path.read_bytes()

    # ----------------------------------------------------------------- Panel

    def panel(self):
        """The thin Panel view: two linked Tabulators and download buttons."""
        import panel as pn

        nodes = _LinkedTable(self, "node_selection", self.node_display)
        edges = _LinkedTable(self, "edge_selection", self.edge_display)
        title = self.workspace.title or "network"

        def download(label, filename, produce):
            return pn.widgets.FileDownload(
                callback=lambda: io.BytesIO(produce()), filename=filename, label=label,
                color="light", embed=False,
            )

        buttons = pn.Row(
            download("Nodes (CSV)", f"{title}_nodes.csv", self.nodes_csv),
            download("Edges (CSV)", f"{title}_edges.csv", self.edges_csv),
            download("Both (Excel)", f"{title}.xlsx", self.excel),
        )
        return pn.Column(
            buttons,
            pn.Tabs(("Nodes", nodes.widget), ("Edges", edges.widget), dynamic=False),
            sizing_mode="stretch_width",
        )


class BranchTableView(param.Parameterized):
    """View-model of the branch tables (``workspace.branches``).

    Two tables: the branches (``Branches.table``: length, tortuosity,
    radii, ...) and the nodes of the branchpoint network (junctions and
    ends, ``Branches.nodes``). Choosing a branch row moves the workspace's
    cursor to the middle of its centreline, so the slice views show it.

    Parameters
    ----------
    workspace : Workspace
    page_size : int
    branch_selection : list of int
        Selected rows of :meth:`branch_frame`; at most one.
    """

    workspace = param.ClassSelector(class_=Workspace)
    page_size = param.Integer(default=20, bounds=(5, 500))
    branch_selection = param.List(default=[], item_type=int)
    node_selection = param.List(default=[], item_type=int)

    def __init__(self, workspace=None, **params):
        super().__init__(workspace=workspace if workspace is not None else Workspace(), **params)
        self.workspace.param.watch(self._branches_changed, ["branches"])

    def branch_frame(self):
        """One row per branch (``Branches.table``); empty without branches."""
        branches = self.workspace.branches
        if branches is None:
            return _empty(BRANCH_TABLE_COLUMNS)
        return branches.table.reset_index(drop=True)

    def node_frame(self):
        """One row per junction or end (``Branches.nodes``); empty without branches."""
        branches = self.workspace.branches
        if branches is None:
            return _empty(BRANCH_NODE_COLUMNS)
        return branches.nodes.reset_index(drop=True)

    def middle_voxel(self, row):
        """Voxel (z, y, x) at the middle of the centreline of a branch row."""
        line = self.workspace.branches.centrelines[row]
        return self.workspace.voxel_of(line[len(line) // 2])

    def _branches_changed(self, *_):
        with param.parameterized.batch_call_watchers(self):
            self.branch_selection = []
            self.node_selection = []

    @param.depends("branch_selection", watch=True)
    def _branch_chosen(self):
        if self.branch_selection and self.workspace.branches is not None:
            self.workspace.cursor = self.middle_voxel(self.branch_selection[-1])

    @param.depends("node_selection", watch=True)
    def _node_chosen(self):
        if self.node_selection and self.workspace.branches is not None:
            row = self.node_frame().iloc[self.node_selection[-1]]
            self.workspace.cursor = self.workspace.voxel_of((row["z"], row["y"], row["x"]))

    def branches_csv(self):
        """The branch table as CSV bytes (UTF-8)."""
        return self.branch_frame().to_csv(index=False).encode("utf-8")

    def nodes_csv(self):
        """The junctions and ends as CSV bytes (UTF-8)."""
        return self.node_frame().to_csv(index=False).encode("utf-8")

    def panel(self):
        """The thin Panel view: the two Tabulators and CSV downloads."""
        import panel as pn

        branches = _LinkedTable(self, "branch_selection", self.branch_frame,
                                refresh_on=("branches",))
        nodes = _LinkedTable(self, "node_selection", self.node_frame, refresh_on=("branches",))
        title = self.workspace.title or "network"

        def download(label, filename, produce):
            return pn.widgets.FileDownload(
                callback=lambda: io.BytesIO(produce()), filename=filename, label=label,
                color="light", embed=False,
            )

        buttons = pn.Row(download("Branches (CSV)", f"{title}_branches.csv", self.branches_csv),
                         download("Junctions and ends (CSV)", f"{title}_junctions.csv",
                                  self.nodes_csv))
        return pn.Column(
            buttons,
            pn.Tabs(("Branches", branches.widget), ("Junctions and ends", nodes.widget),
                    dynamic=False),
            visible=pn.bind(lambda branches: branches is not None, self.workspace.param.branches),
            sizing_mode="stretch_width", css_classes=["plexus-branch-tables"],
        )


class _LinkedTable:
    """A Tabulator kept in step, both ways, with one selection parameter.

    It reloads when one of the workspace parameters ``refresh_on`` changes.
    """

    def __init__(self, view, selection_param, frame, *, refresh_on=("network", "node_table")):
        import panel as pn

        self.view = view
        self.selection_param = selection_param
        self.frame = frame
        # True while this object changes the widget, so that the widget's
        # own events (a selection reset by new data) are not taken as clicks.
        self.updating = False
        shown = frame()
        self.widget = pn.widgets.Tabulator(
            shown, pagination="remote", page_size=view.page_size, header_filters=True,
            show_index=False, disabled=True, selectable=1, layout="fit_data_table",
            formatters=_float_formatters(shown), sizing_mode="stretch_width",
        )
        self.widget.param.watch(self.from_widget, ["selection"])
        view.param.watch(self.to_widget, [selection_param])
        view.workspace.param.watch(self.refresh, list(refresh_on))
        self.show(getattr(view, selection_param))

    def from_widget(self, event):
        if not self.updating:
            setattr(self.view, self.selection_param, list(event.new))

    def to_widget(self, event):
        self.show(event.new)

    def refresh(self, *_):
        self.updating = True
        try:
            shown = self.frame()
            self.widget.formatters = _float_formatters(shown)
            self.widget.value = shown
        finally:
            self.updating = False
        self.show(getattr(self.view, self.selection_param))

    def show(self, rows):
        """Select ``rows`` in the widget and turn to the page of the first."""
        widget = self.widget
        rows = [row for row in rows if row < len(widget.value)]
        self.updating = True
        try:
            if rows:
                page = page_of(widget.current_view.index, widget.value.index[rows[0]],
                               widget.page_size)
                # Turn the page first: Tabulator maps the selection onto it.
                if page is not None and page != widget.page:
                    widget.page = page
            widget.selection = list(rows)
        finally:
            self.updating = False


def _empty(columns):
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def _float_formatters(frame):
    """Show floats with at most 4 decimals (the values themselves are kept)."""
    from bokeh.models.widgets.tables import NumberFormatter

    return {
        column: NumberFormatter(format="0.[0000]")
        for column in frame.columns if frame[column].dtype.kind == "f"
    }
