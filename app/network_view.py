"""The network view: a node-link drawing, whole-network statistics, histograms.

:class:`NetworkView` is a view-model over a :class:`~app.workspace.Workspace`.
The logic (positions, node sizes and colours, the node and edge tables fed
to HoloViews) lives in plain methods that tests call without a browser;
:meth:`NetworkView.panel` wraps the result in a thin Panel layout.

Drawing choices, from what was measured on this machine kind
(``/work/shared/notes/dashboards-on-this-machine.md``):

- Bokeh's canvas backend, not WebGL: headless and software-emulated WebGL
  made a 5k-node graph ten times slower.
- Positions are the physical centroids projected on a plane, or one
  igraph force layout computed once per network and cached.
- Edges are an ``hv.Graph`` (hover shows weight and length); nodes are an
  ``hv.Points`` layer on top, because HoloViews 1.23 cannot attach a
  ``Selection1D`` stream to a graph's node renderer but can to points.
  Tapping a node selects it in the workspace; the workspace's selection is
  drawn (bigger, outlined) and also pushed into Bokeh's own selection, and
  the stream is transient, so tapping a node again after another view
  changed the selection still registers (checked in headless Chromium).
"""

import asyncio
import random
import weakref

import colorcet
import holoviews as hv
import holoviews.plotting.bokeh  # registers the bokeh plot options used below
import numpy as np
import pandas as pd
import param

from engine import InvalidInputError

from .palette import PALETTE, color_index
from .tables import exact_ids, label_mask
from .workspace import Workspace

LAYOUTS = ("centroids xy", "centroids xz", "centroids yz", "force")
SIZE_ATTRIBUTES = ("degree", "volume", "betweenness", "constant")
COLOR_ATTRIBUTES = ("degree", "community", "identity")
CENTRALITIES = ("betweenness", "closeness", "eigenvector")

#: Node diameter in screen pixels: smallest and largest value of ``size_by``.
NODE_SIZE_RANGE = (8.0, 30.0)
#: The selected node is drawn this much bigger, with a thick dark outline.
SELECTED_GROWTH = 1.5
SELECTED_OUTLINE = ("#000000", 3.0)
NODE_OUTLINE = ("#404040", 0.5)
#: Node count above which the force layout runs fewer iterations.
_FORCE_FULL_NODES = 1000
#: Continuous colours for degree; light enough ends stay visible on white.
DEGREE_PALETTE = colorcet.bgy

# Plot axes (horizontal, vertical) of each centroid projection; physical units.
_PROJECTIONS = {
    "centroids xy": ("x", "y"),
    "centroids xz": ("x", "z"),
    "centroids yz": ("y", "z"),
}
# Columns of the node table shown in the hover tooltip, in this order.
_HOVER_COLUMNS = (
    "label", "name", "degree", "community", "volume",
    "betweenness", "closeness", "eigenvector", "clustering",
)

#: Display names of the keys of ``Network.statistics()``; unknown keys
#: are shown with underscores replaced by spaces.
STATISTIC_NAMES = {
    "n_nodes": "Nodes",
    "n_edges": "Edges (linked pairs)",
    "density": "Density",
    "n_components": "Connected components",
    "largest_component_size": "Largest component (nodes)",
    "mean_degree": "Mean degree",
    "max_degree": "Max degree",
    "mean_betweenness": "Mean betweenness",
    "mean_closeness": "Mean closeness",
    "mean_eigenvector": "Mean eigenvector centrality",
    "average_clustering": "Average clustering",
    "transitivity": "Transitivity",
    "diameter": "Diameter (largest component)",
    "average_shortest_path_length": "Mean shortest path (largest component)",
    "degree_assortativity": "Degree assortativity",
    "n_triangles": "Triangles",
}

PLACEHOLDER = (
    "**No network yet.** Build one (connect nodes through vessels or nerves, "
    "or by proximity) and it will be drawn here."
)


class NetworkView(param.Parameterized):
    """View-model of the network drawing, its statistics and histograms.

    Parameters
    ----------
    workspace : Workspace
        Shared state; the view reads ``network``, ``node_table`` and
        ``selected`` and calls ``workspace.select`` when a node is tapped.
    layout : {"centroids xy", "centroids xz", "centroids yz", "force"}
        Node positions: the physical centroids projected on a plane, or an
        igraph Fruchterman-Reingold layout (networkx spring layout without
        igraph) computed once per network.
    size_by : {"degree", "volume", "betweenness", "constant"}
        Node attribute mapped to the node's diameter.
    color_by : {"degree", "community", "identity"}
        ``degree``: a continuous palette; ``community`` and ``identity``:
        the glasbey colours of :mod:`app.palette`, so a community or an
        object has the same colour here as in the slice and 3D views.
    show_isolated : bool
        Draw the nodes of degree 0.
    centrality : {"betweenness", "closeness", "eigenvector"}
        The centrality whose histogram is shown.
    """

    workspace = param.ClassSelector(class_=Workspace)
    layout = param.Selector(objects=list(LAYOUTS), default="centroids xy")
    size_by = param.Selector(objects=list(SIZE_ATTRIBUTES), default="degree")
    color_by = param.Selector(objects=list(COLOR_ATTRIBUTES), default="community")
    show_isolated = param.Boolean(default=True)
    centrality = param.Selector(objects=list(CENTRALITIES), default="betweenness")

    def __init__(self, workspace=None, **params):
        super().__init__(workspace=workspace if workspace is not None else Workspace(), **params)
        # Force layouts by network: computed once, dropped with the network.
        self._force_layouts = weakref.WeakKeyDictionary()
        #: The Selection1D stream of the last plot built by :meth:`plot`.
        self.tap_stream = None

    # ----------------------------------------------------------------- logic

    @property
    def has_network(self):
        """True when the workspace holds a network and its node table."""
        return self.workspace.network is not None and self.workspace.node_table is not None

    def positions(self, layout=None):
        """Plot coordinates of every node, in the node table's row order.

        Parameters
        ----------
        layout : str, optional
            One of :data:`LAYOUTS`; default the ``layout`` parameter.

        Returns
        -------
        ndarray, shape (n_nodes, 2)
            (horizontal, vertical). For ``"centroids xy"`` that is the
            physical centroid (x, y); ``xz`` gives (x, z), ``yz`` (y, z).
        """
        layout = self.layout if layout is None else layout
        table = self.workspace.node_table
        if layout in _PROJECTIONS:
            return table[list(_PROJECTIONS[layout])].to_numpy(float)
        if layout != "force":
            raise InvalidInputError(f"layout must be one of {LAYOUTS}, was {layout!r}")
        by_label = self._force_layout(self.workspace.network)
        return np.array([by_label[int(label)] for label in table["label"]], float).reshape(-1, 2)

    def _force_layout(self, network):
        """``{label: (h, v)}`` from a force layout, computed once per network."""
        if network not in self._force_layouts:
            self._force_layouts[network] = _force_positions(network.graph)
        return self._force_layouts[network]

    def node_sizes(self, table=None):
        """Node diameters (pixels) scaled from ``size_by``.

        The smallest value gets ``NODE_SIZE_RANGE[0]``, the largest
        ``NODE_SIZE_RANGE[1]``; in between the *area* grows linearly with the
        value, so sizes keep the attribute's order. ``"constant"`` or a
        constant attribute gives every node the middle size.
        """
        table = self.workspace.node_table if table is None else table
        low, high = NODE_SIZE_RANGE
        if self.size_by == "constant" or not len(table):
            return np.full(len(table), (low + high) / 2)
        values = table[self.size_by].to_numpy(float)
        span = values.max() - values.min()
        if not span > 0:
            return np.full(len(table), (low + high) / 2)
        fraction = (values - values.min()) / span
        return np.sqrt(low**2 + fraction * (high**2 - low**2))

    def node_colors(self, table=None):
        """Hex colour of every node from ``color_by`` (list of str)."""
        table = self.workspace.node_table if table is None else table
        if self.color_by in ("community", "identity"):
            column = "community" if self.color_by == "community" else "label"
            ids = table[column].to_numpy().astype(np.uint64)
            return [PALETTE[i] for i in color_index(ids)]
        degrees = table["degree"].to_numpy(float)
        top = degrees.max() if len(degrees) else 0.0
        scaled = degrees / top if top > 0 else np.zeros_like(degrees)
        index = np.rint(scaled * (len(DEGREE_PALETTE) - 1)).astype(int)
        return [DEGREE_PALETTE[i] for i in index]

    def node_frame(self):
        """The nodes drawn, one row each, with everything the plot needs.

        Returns
        -------
        pandas.DataFrame
            Rows of the node table (isolated nodes dropped unless
            ``show_isolated``), renumbered 0..n-1, with columns ``node``
            (that position, the graph's node index), ``plot_x``, ``plot_y``,
            the node table's ``label, name, degree, community, volume``
            and centralities, ``size`` (pixels), ``color`` (hex),
            ``line_color``, ``line_width`` and ``selected`` (bool). The
            selected node is bigger and outlined.
        """
        table = self.workspace.node_table
        xy = self.positions()
        keep = np.ones(len(table), bool)
        if not self.show_isolated:
            keep = table["degree"].to_numpy() > 0
        columns = [c for c in _HOVER_COLUMNS if c in table.columns]
        frame = table.loc[keep, columns].reset_index(drop=True)
        frame.insert(0, "plot_y", xy[keep, 1])
        frame.insert(0, "plot_x", xy[keep, 0])
        frame.insert(0, "node", np.arange(len(frame)))
        is_selected = label_mask(frame["label"], self.workspace.selected)
        sizes = self.node_sizes(table)[keep]
        frame["size"] = np.where(is_selected, sizes * SELECTED_GROWTH, sizes)
        frame["color"] = np.asarray(self.node_colors(table), dtype=object)[keep]
        frame["line_color"] = np.where(is_selected, SELECTED_OUTLINE[0], NODE_OUTLINE[0])
        frame["line_width"] = np.where(is_selected, SELECTED_OUTLINE[1], NODE_OUTLINE[1])
        frame["selected"] = is_selected
        return frame

    def edge_frame(self, nodes=None):
        """One row per linked pair whose two nodes are drawn.

        Parameters
        ----------
        nodes : pandas.DataFrame, optional
            A :meth:`node_frame`; computed when not given.

        Returns
        -------
        pandas.DataFrame
            ``source`` and ``target`` (positions in ``nodes``), ``weight``
            (number of connecting objects), ``length`` (physical distance
            between the centroids), ``name_a``, ``name_b`` and ``line_width``
            (pixels, 1 to 3 with the weight).
        """
        nodes = self.node_frame() if nodes is None else nodes
        position = {int(label): i for i, label in enumerate(nodes["label"])}
        names = nodes["name"].tolist()
        rows = []
        for a, b, data in self.workspace.network.graph.edges(data=True):
            if a in position and b in position:
                i, j = sorted((position[a], position[b]))
                rows.append((i, j, int(data.get("weight", 1)), float(data.get("length", np.nan))))
        frame = pd.DataFrame(rows, columns=["source", "target", "weight", "length"])
        frame = frame.astype({"source": np.int64, "target": np.int64, "weight": np.int64})
        frame = frame.sort_values(["source", "target"], ignore_index=True)
        frame["name_a"] = [names[i] for i in frame["source"]]
        frame["name_b"] = [names[i] for i in frame["target"]]
        weights = frame["weight"].to_numpy(float)
        span = weights.max() - weights.min() if len(weights) else 0.0
        frame["line_width"] = 1.0 + (2.0 * (weights - weights.min()) / span if span > 0 else 0.0)
        return frame

    @property
    def highlighted(self):
        """Label of the node drawn as selected, or None (none, or hidden)."""
        if not self.has_network or self.workspace.selected is None:
            return None
        frame = self.node_frame()
        chosen = frame.loc[frame["selected"], "label"]
        return int(chosen.iloc[0]) if len(chosen) else None

    def tap(self, index):
        """Select the node at the last position of ``index`` in :meth:`node_frame`.

        This is what a tap on the drawing does (a ``Selection1D`` stream
        gives the positions). An empty selection (a tap on the background)
        leaves the workspace's selection alone, so a stray click does not
        clear what the other views show.
        """
        if not index or not self.has_network:
            return
        labels = self.node_frame()["label"]
        position = int(index[-1])
        if 0 <= position < len(labels):
            self.workspace.select(int(labels.iloc[position]))

    def statistics_rows(self):
        """Whole-network statistics as (display name, formatted value) pairs."""
        if not self.has_network:
            return []
        rows = []
        for key, value in self.workspace.network.statistics().items():
            name = STATISTIC_NAMES.get(key, key.replace("_", " ").capitalize())
            rows.append((name, _format_number(value)))
        return rows

    def degree_counts(self):
        """(degrees 0..max, how many nodes have each), both int arrays."""
        degrees = self.workspace.node_table["degree"].to_numpy(np.int64)
        counts = np.bincount(degrees) if len(degrees) else np.zeros(1, np.int64)
        return np.arange(len(counts)), counts

    def centrality_counts(self, bins=20):
        """(counts, bin edges) of the ``centrality`` column over all nodes."""
        values = self.workspace.node_table[self.centrality].to_numpy(float)
        values = values[np.isfinite(values)]
        upper = max(values.max(), 1e-12) if len(values) else 1.0
        return np.histogram(values, bins=bins, range=(0.0, upper))

    # ----------------------------------------------------------- HoloViews

    def graph_element(self, nodes=None):
        """The edges as an ``hv.Graph`` (nodes carry every drawn attribute).

        The graph's own node glyphs are hidden: :meth:`nodes_element` draws
        the nodes so that taps can be streamed (see the module docstring).
        """
        nodes = self.node_frame() if nodes is None else nodes
        edges = self.edge_frame(nodes)
        hv_nodes = hv.Nodes(
            exact_ids(nodes), kdims=["plot_x", "plot_y", "node"],
            vdims=[c for c in nodes.columns if c not in ("plot_x", "plot_y", "node")],
        )
        graph = hv.Graph(
            (edges, hv_nodes), kdims=["source", "target"],
            vdims=["weight", "length", "name_a", "name_b", "line_width"],
        )
        return graph.opts(
            backend="bokeh", node_size=0, node_alpha=0, inspection_policy="edges",
            edge_color="#8c8c8c", edge_alpha=0.7,
            edge_line_width="line_width",
            edge_hover_line_color="#000000", tools=["hover"],
            hover_tooltips=[("between", "@name_a - @name_b"), ("objects", "@weight"),
                            ("length", "@length{0.[00]}")],
            **self._axis_options(),
        )

    def nodes_element(self, nodes=None):
        """The nodes as ``hv.Points``: sized, coloured, selected one outlined."""
        nodes = self.node_frame() if nodes is None else nodes
        points = hv.Points(
            exact_ids(nodes), kdims=["plot_x", "plot_y"],
            vdims=[c for c in nodes.columns if c not in ("plot_x", "plot_y")],
        )
        # Pushing the selection into Bokeh keeps a re-tap of a node selected
        # earlier working (Bokeh fires nothing when the indices do not change).
        selected = np.flatnonzero(nodes["selected"].to_numpy()).tolist()
        if not _has_running_loop():
            # HoloViews relays a Python-side selection change with
            # asyncio.create_task, which raises without a running loop
            # (plain scripts and tests; servers and notebooks have one).
            selected = None
        tooltips = [(c, f"@{{{c}}}") for c in _HOVER_COLUMNS if c in nodes.columns]
        return points.opts(
            backend="bokeh", size="size", color="color", line_color="line_color",
            line_width="line_width", tools=["hover", "tap"], hover_tooltips=tooltips,
            # Keep unselected nodes as they are: the outline marks the selection.
            nonselection_alpha=1.0, selection_alpha=1.0, selected=selected,
            **self._axis_options(),
        )

    def _axis_options(self):
        """Axis labels, orientation and canvas output for the drawing."""
        horizontal, vertical = _PROJECTIONS.get(self.layout, ("", ""))
        return {
            "xlabel": horizontal, "ylabel": vertical,
            # Centroid projections read like the slice views: rows go down.
            "invert_yaxis": self.layout in _PROJECTIONS,
            "data_aspect": 1 if self.layout in _PROJECTIONS else None,
            "backend_opts": {"plot.output_backend": "canvas"},
            "responsive": True, "min_height": 420,
        }

    def plot(self):
        """The live drawing: edges and nodes as DynamicMaps, taps linked.

        Node styling follows ``size_by``, ``color_by``, ``show_isolated``
        and the workspace's ``selected``; the layout is read when the plot
        is built (the Panel view rebuilds the plot when it changes, so the
        axes fit the new positions without resetting on every selection).
        A ``Selection1D`` stream on the nodes calls :meth:`tap`.
        """
        styling = hv.streams.Params(self, ["size_by", "color_by", "show_isolated"])
        selection = hv.streams.Params(self.workspace, ["selected"])
        edges = hv.DynamicMap(lambda **_: self.graph_element(),
                              streams=[hv.streams.Params(self, ["show_isolated"])])
        nodes = hv.DynamicMap(lambda **_: self.nodes_element(), streams=[styling, selection])
        # Transient: HoloViews drops a selection equal to the last one it
        # relayed, but under a server it does not see the selections pushed
        # from Python, so re-tapping a node would otherwise go unnoticed.
        self.tap_stream = hv.streams.Selection1D(source=nodes, transient=True)
        self.tap_stream.add_subscriber(lambda index: self.tap(index))
        return (edges * nodes).opts(backend="bokeh", toolbar="above")

    def degree_histogram(self):
        """Degree distribution as an ``hv.Histogram`` (one bar per degree)."""
        degrees, counts = self.degree_counts()
        bin_edges = np.append(degrees, degrees[-1] + 1) - 0.5
        return hv.Histogram((bin_edges, counts), kdims=["degree"], vdims=["nodes"]).opts(
            backend="bokeh", title="Degree distribution", color="#4c72b0",
            tools=["hover"], backend_opts={"plot.output_backend": "canvas"},
            responsive=True, height=240,
        )

    def centrality_histogram(self):
        """Histogram of the ``centrality`` chosen, over all nodes."""
        counts, bin_edges = self.centrality_counts()
        return hv.Histogram((bin_edges, counts), kdims=[self.centrality], vdims=["nodes"]).opts(
            backend="bokeh", title=f"{self.centrality.capitalize()} distribution",
            color="#dd8452", tools=["hover"], framewise=True,
            backend_opts={"plot.output_backend": "canvas"}, responsive=True, height=240,
        )

    # --------------------------------------------------------------- Panel

    def statistics_markdown(self):
        """The statistics as a Markdown table."""
        lines = ["| Measure | Value |", "| --- | ---: |"]
        lines += [f"| {name} | {value} |" for name, value in self.statistics_rows()]
        return "\n".join(lines)

    def panel(self):
        """The thin Panel view: controls, drawing, statistics, histograms.

        Shows a placeholder while the workspace has no network; the whole
        body is rebuilt when the network changes, the drawing alone when
        the layout changes.
        """
        import panel as pn

        controls = pn.Param(
            self, parameters=["layout", "size_by", "color_by", "show_isolated"],
            show_name=False,
        )

        def drawing(layout):
            return pn.pane.HoloViews(self.plot(), backend="bokeh", sizing_mode="stretch_width",
                                     min_height=420)

        def body(network):
            if not self.has_network:
                return pn.pane.Alert(PLACEHOLDER, alert_type="light")
            centrality_plot = hv.DynamicMap(
                lambda **_: self.centrality_histogram(),
                streams=[hv.streams.Params(self, ["centrality"])],
            )
            histograms = pn.Row(
                pn.pane.HoloViews(self.degree_histogram(), sizing_mode="stretch_width"),
                pn.Column(
                    pn.widgets.Select.from_param(self.param.centrality, name="Centrality"),
                    pn.pane.HoloViews(centrality_plot, sizing_mode="stretch_width"),
                    sizing_mode="stretch_width",
                ),
                sizing_mode="stretch_width",
            )
            return pn.Row(
                pn.Column(controls, pn.pane.Markdown(self.statistics_markdown()), width=320),
                pn.Column(pn.panel(pn.bind(drawing, self.param.layout)), histograms,
                          sizing_mode="stretch_width"),
                sizing_mode="stretch_width",
            )

        return pn.panel(pn.bind(body, self.workspace.param.network), sizing_mode="stretch_width")


def _force_positions(graph):
    """``{label: (h, v)}`` from igraph's Fruchterman-Reingold layout.

    Reproducible: the start positions and igraph's random numbers come from
    fixed seeds. Above ``_FORCE_FULL_NODES`` nodes the iterations drop from
    500 to 150 (5k nodes, 10k edges: about 4 s instead of 13 s here). Falls
    back to networkx's spring layout when python-igraph is not installed.
    """
    labels = sorted(graph)
    if not labels:
        return {}
    start = np.random.default_rng(0).random((len(labels), 2))
    try:
        import igraph
    except ImportError:
        import networkx as nx

        initial = {label: tuple(p) for label, p in zip(labels, start)}
        return {int(k): tuple(v) for k, v in nx.spring_layout(graph, pos=initial, seed=0).items()}
    position = {label: i for i, label in enumerate(labels)}
    shape = igraph.Graph(n=len(labels), edges=[(position[a], position[b]) for a, b in graph.edges])
    iterations = 500 if len(labels) <= _FORCE_FULL_NODES else 150
    # igraph draws from a process-wide generator (Python's ``random`` by
    # default): lend it a seeded one for this call, then give ``random`` back.
    igraph.set_random_number_generator(random.Random(0))
    try:
        layout = shape.layout_fruchterman_reingold(seed=start.tolist(), niter=iterations)
    finally:
        igraph.set_random_number_generator(random)
    coords = np.asarray(layout.coords, float)
    return {int(label): (float(h), float(v)) for label, (h, v) in zip(labels, coords)}


def _has_running_loop():
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _format_number(value):
    """A statistic for display: ints as is, floats to 4 significant digits."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, (float, np.floating)):
        return "n/a" if not np.isfinite(value) else f"{float(value):.4g}"
    return str(value)
