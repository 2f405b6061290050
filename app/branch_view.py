"""The branchpoint network view: junctions and ends as nodes, branches as edges.

:class:`BranchNetworkView` draws ``workspace.branches.branchpoint_network()``
(see :class:`engine.skeleton.Branches`) the way
:class:`~app.network_view.NetworkView` draws the node network: nodes at their
physical positions projected on a plane, edges as an ``hv.Graph`` whose hover
shows the branch's length, tortuosity and mean radius, nodes as ``hv.Points``
on top. A branch has the same colour here as in the slice (``"branches"``
layer) and 3D views. Tapping a node moves the workspace's cursor to it, so
the slice views show that junction or end.

The frames are plain pandas, computed without a browser:

>>> import numpy as np
>>> from engine.skeleton import Branches, skeletonize
>>> from app.workspace import Workspace
>>> mask = np.zeros((9, 40, 40), bool)
>>> mask[3:6, 18:22, 2:38] = True; mask[3:6, 2:38, 18:22] = True
>>> ws = Workspace(); ws.set_volumes(labels={"nodes": mask.astype(np.uint8)})
>>> ws.set_branches(Branches(skeletonize(mask)), None)
>>> view = BranchNetworkView(ws)
>>> len(view.node_frame()), len(view.edge_frame())
(5, 4)
"""

import weakref

import holoviews as hv
import holoviews.plotting.bokeh  # registers the bokeh plot options used below
import numpy as np
import pandas as pd
import param

from .palette import PALETTE, color_index
from .workspace import Workspace

LAYOUTS = ("positions xy", "positions xz", "positions yz")
COLOR_BY = ("kind", "object")
#: Node colours by kind (``Branches.nodes["kind"]``).
KIND_COLORS = {"junction": "#d62728", "end": "#1f77b4", "loop": "#7f7f7f"}
#: Node diameters in screen pixels.
NODE_SIZES = {"junction": 11.0, "end": 7.0, "loop": 7.0}
EDGE_WIDTH = 2.5

_PROJECTIONS = {"positions xy": ("x", "y"), "positions xz": ("x", "z"), "positions yz": ("y", "z")}
_EDGE_COLUMNS = ("branch_id", "length", "euclidean", "tortuosity", "mean_radius", "min_radius",
                 "kind", "label")

PLACEHOLDER = (
    "**No branches yet.** Press *Measure branches* to skeletonise the connecting "
    "objects; their branchpoint network is drawn here."
)


class BranchNetworkView(param.Parameterized):
    """View-model of the drawing of the branchpoint network.

    Parameters
    ----------
    workspace : Workspace
        Shared state; the view reads ``branches`` and moves ``cursor``.
    layout : {"positions xy", "positions xz", "positions yz"}
        The plane the physical node positions are projected on.
    color_by : {"kind", "object"}
        Node colours: junction / end (:data:`KIND_COLORS`), or the glasbey
        colour of the connecting object (label) the node belongs to.
    """

    workspace = param.ClassSelector(class_=Workspace)
    layout = param.Selector(objects=list(LAYOUTS), default="positions xy")
    color_by = param.Selector(objects=list(COLOR_BY), default="kind")

    def __init__(self, workspace=None, **params):
        super().__init__(workspace=workspace if workspace is not None else Workspace(), **params)
        self._graphs = weakref.WeakKeyDictionary()  # branchpoint network by Branches
        #: The Selection1D stream of the last plot built by :meth:`plot`.
        self.tap_stream = None

    # ----------------------------------------------------------------- logic

    @property
    def has_branches(self):
        """True when the workspace holds branches."""
        return self.workspace.branches is not None

    def graph(self):
        """The workspace's branchpoint network (``networkx.MultiGraph``), built once."""
        branches = self.workspace.branches
        if branches not in self._graphs:
            self._graphs[branches] = branches.branchpoint_network()
        return self._graphs[branches]

    def node_frame(self):
        """One row per node of the branchpoint network, in node id order.

        Returns
        -------
        pandas.DataFrame
            ``node`` (position 0..n-1, the drawing's node index), ``plot_x``,
            ``plot_y``, ``node_id`` (the network's node), ``kind``,
            ``degree``, ``label`` (the connecting object), physical ``z, y,
            x``, ``color`` and ``size`` (pixels).
        """
        graph = self.graph()
        ids = sorted(graph.nodes)
        data = [graph.nodes[n] for n in ids]
        frame = pd.DataFrame({
            "node_id": np.asarray(ids, np.int64),
            "kind": [d["kind"] for d in data],
            "degree": np.asarray([d["degree"] for d in data], np.int64),
            "label": np.asarray([d["label"] for d in data], np.int64),
            **{axis: np.asarray([d[axis] for d in data], float) for axis in "zyx"},
        })
        horizontal, vertical = _PROJECTIONS[self.layout]
        frame.insert(0, "plot_y", frame[vertical].to_numpy())
        frame.insert(0, "plot_x", frame[horizontal].to_numpy())
        frame.insert(0, "node", np.arange(len(frame)))
        if self.color_by == "kind":
            frame["color"] = [KIND_COLORS.get(k, "#7f7f7f") for k in frame["kind"]]
        else:
            frame["color"] = [PALETTE[i] for i in color_index(frame["label"].to_numpy(np.uint64))]
        frame["size"] = [NODE_SIZES.get(k, 7.0) for k in frame["kind"]]
        return frame

    def edge_frame(self, nodes=None):
        """One row per branch (edge of the network), in branch id order.

        Returns
        -------
        pandas.DataFrame
            ``source``, ``target`` (positions in :meth:`node_frame`), the
            branch's ``branch_id, length, euclidean, tortuosity,
            mean_radius, min_radius, kind, label`` and ``color`` (its
            glasbey colour, as in the slices and in 3D).
        """
        nodes = self.node_frame() if nodes is None else nodes
        position = dict(zip(nodes["node_id"].tolist(), nodes["node"].tolist()))
        rows = [(position[a], position[b], *(data[c] for c in _EDGE_COLUMNS))
                for a, b, data in self.graph().edges(data=True)]
        frame = pd.DataFrame(rows, columns=["source", "target", *_EDGE_COLUMNS])
        frame = frame.astype({"source": np.int64, "target": np.int64, "branch_id": np.int64})
        frame = frame.sort_values("branch_id", ignore_index=True)
        frame["color"] = [PALETTE[i] for i in color_index(frame["branch_id"].to_numpy(np.uint64))]
        return frame

    def tap(self, index):
        """Move the workspace's cursor to the node at the last position of ``index``.

        What a tap on a node does; an empty ``index`` (the background) does nothing.
        """
        if not index or not self.has_branches:
            return
        nodes = self.node_frame()
        position = int(index[-1])
        if 0 <= position < len(nodes):
            row = nodes.iloc[position]
            self.workspace.cursor = self.workspace.voxel_of((row["z"], row["y"], row["x"]))

    def summary_rows(self):
        """(name, value) pairs describing the branches."""
        if not self.has_branches:
            return []
        branches = self.workspace.branches
        table, kinds = branches.table, branches.nodes["kind"]
        finite = table["tortuosity"].replace(np.inf, np.nan)
        return [
            ("Branches", f"{len(table):,}"),
            ("Junctions", f"{int((kinds == 'junction').sum()):,}"),
            ("Ends", f"{int((kinds == 'end').sum()):,}"),
            ("Cable length", f"{table['length'].sum():.4g}"),
            ("Mean branch length", f"{table['length'].mean():.4g}" if len(table) else "n/a"),
            ("Mean tortuosity", f"{finite.mean():.4g}" if finite.notna().any() else "n/a"),
        ]

    # ----------------------------------------------------------- HoloViews

    def graph_element(self, nodes=None):
        """The branches as an ``hv.Graph``; hover shows each branch's measures."""
        nodes = self.node_frame() if nodes is None else nodes
        edges = self.edge_frame(nodes)
        hv_nodes = hv.Nodes(nodes, kdims=["plot_x", "plot_y", "node"],
                            vdims=[c for c in nodes.columns if c not in ("plot_x", "plot_y", "node")])
        graph = hv.Graph((edges, hv_nodes), kdims=["source", "target"],
                         vdims=[c for c in edges.columns if c not in ("source", "target")])
        return graph.opts(
            backend="bokeh", node_size=0, node_alpha=0, inspection_policy="edges",
            edge_color="color", edge_line_width=EDGE_WIDTH, edge_alpha=0.9,
            edge_hover_line_color="#000000", tools=["hover"],
            hover_tooltips=[("branch", "@{branch_id}"), ("length", "@{length}{0.[00]}"),
                            ("tortuosity", "@{tortuosity}{0.[000]}"),
                            ("mean radius", "@{mean_radius}{0.[00]}"), ("kind", "@{kind}")],
            **self._axis_options(),
        )

    def nodes_element(self, nodes=None):
        """The junctions and ends as ``hv.Points``."""
        nodes = self.node_frame() if nodes is None else nodes
        points = hv.Points(nodes, kdims=["plot_x", "plot_y"],
                           vdims=[c for c in nodes.columns if c not in ("plot_x", "plot_y")])
        return points.opts(
            backend="bokeh", size="size", color="color", line_color="#303030", line_width=0.5,
            tools=["hover", "tap"], nonselection_alpha=1.0, selection_alpha=1.0,
            # Braces throughout: HoloViews would read "@node_id" as the column "node".
            hover_tooltips=[("node", "@{node_id}"), ("kind", "@{kind}"), ("degree", "@{degree}"),
                            ("object", "@{label}"),
                            ("z, y, x", "@{z}{0.[0]}, @{y}{0.[0]}, @{x}{0.[0]}")],
            **self._axis_options(),
        )

    def _axis_options(self):
        horizontal, vertical = _PROJECTIONS[self.layout]
        return {"xlabel": horizontal, "ylabel": vertical, "invert_yaxis": True, "data_aspect": 1,
                "backend_opts": {"plot.output_backend": "canvas"},
                "responsive": True, "min_height": 420}

    def plot(self):
        """The live drawing: node colours follow ``color_by``, taps move the cursor."""
        nodes = hv.DynamicMap(lambda **_: self.nodes_element(),
                              streams=[hv.streams.Params(self, ["color_by"])])
        self.tap_stream = hv.streams.Selection1D(source=nodes, transient=True)
        self.tap_stream.add_subscriber(lambda index: self.tap(index))
        return (self.graph_element() * nodes).opts(backend="bokeh", toolbar="above")

    # --------------------------------------------------------------- Panel

    def summary_markdown(self):
        """:meth:`summary_rows` as a Markdown table."""
        lines = ["| Branches | |", "| --- | ---: |"]
        return "\n".join(lines + [f"| {name} | {value} |" for name, value in self.summary_rows()])

    def panel(self):
        """The thin Panel view: controls, summary and drawing (rebuilt with the branches)."""
        import panel as pn

        controls = pn.Param(self, parameters=["layout", "color_by"], show_name=False,
                            widgets={"color_by": {"name": "node colour"}})

        def drawing(layout):
            return pn.pane.HoloViews(self.plot(), backend="bokeh", sizing_mode="stretch_width",
                                     min_height=420)

        def body(branches):
            if branches is None:
                return pn.pane.Alert(PLACEHOLDER, alert_type="light")
            return pn.Row(
                pn.Column(controls, pn.pane.Markdown(self.summary_markdown()), width=260),
                pn.panel(pn.bind(drawing, self.param.layout), sizing_mode="stretch_width"),
                sizing_mode="stretch_width", css_classes=["plexus-branch-network"],
            )

        return pn.panel(pn.bind(body, self.workspace.param.branches), sizing_mode="stretch_width")
