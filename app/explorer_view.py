"""The network explorer's page: controls on the left, linked views on the right.

Thin by design: every widget is bound to a parameter or an action of
:class:`~app.explorer.NetworkExplorer`; the views are the components'
own ``panel()`` layouts over the explorer's shared workspace.
"""

import panel as pn

from .branch_view import BranchNetworkView
from .branches import OVERLAYS
from .network_view import NetworkView
from .runner import user_message
from .slice_browser import SliceBrowser
from .tables import BranchTableView, TableView
from .view3d import View3D

SIDEBAR_WIDTH = 320


def _guarded(explorer, step, action):
    """A button callback that shows failures on the page instead of raising."""

    def callback(_event=None):
        explorer.runner.error = ""
        try:
            action()
        except Exception as error:  # shown to the user, logged by the runner's logger
            explorer.runner.error = user_message(step, error)

    return callback


def _button(name, callback, **kwargs):
    button = pn.widgets.Button(name=name, sizing_mode="stretch_width", **kwargs)
    button.on_click(callback)
    return button


def _data_controls(explorer):
    uploads = {role: pn.widgets.FileInput(accept=".tif,.tiff", name=role,
                                          sizing_mode="stretch_width")
               for role in ("nodes", "edges", "image")}

    def load_uploads():
        explorer.load_uploads(
            uploads["nodes"].value, uploads["edges"].value, uploads["image"].value,
            names=tuple(w.filename or f"{role}.tif" for role, w in uploads.items()),
        )

    paths = pn.Param(explorer.param, parameters=["nodes_path", "edges_path", "image_path"],
                     show_name=False, sizing_mode="stretch_width")
    return pn.Column(
        "### Data",
        _button("Frog demo", _guarded(explorer, "loading the demo", explorer.load_demo)),
        pn.widgets.TextInput.from_param(explorer.param.spacing_text, name="spacing dz, dy, dx"),
        pn.pane.Markdown("Tifs on the server:", margin=(0, 10)),
        paths,
        _button("Load paths", _guarded(explorer, "reading the tifs", explorer.load_paths)),
        pn.pane.Markdown("Or upload (nodes, edges, image):", margin=(0, 10)),
        *uploads.values(),
        _button("Load uploads", _guarded(explorer, "reading the uploads", load_uploads)),
        sizing_mode="stretch_width",
    )


def _network_controls(explorer):
    settings = pn.Param(explorer.param, parameters=["method", "search", "radius", "k", "trunks"],
                        show_name=False, sizing_mode="stretch_width",
                        widgets={"search": {"name": "search radius (physical)"},
                                 "radius": {"name": "proximity radius (physical)"},
                                 "k": {"name": "k nearest"}})
    build = _button("Build network", _guarded(explorer, "building the network", explorer.build),
                    button_type="primary")
    build.disabled = explorer.runner.param.running
    return pn.Column("### Network", settings, build, explorer.runner.panel(),
                     sizing_mode="stretch_width")


def _branch_controls(explorer):
    analysis = explorer.branches
    prune = pn.widgets.FloatInput.from_param(analysis.param.prune, name="prune spurs shorter than",
                                             sizing_mode="stretch_width")
    measure = _button("Measure branches",
                      _guarded(explorer, "measuring the branches", analysis.analyze),
                      css_classes=["plexus-branches-button"])
    measure.disabled = explorer.runner.param.running
    toggle = pn.widgets.RadioButtonGroup.from_param(
        analysis.param.overlay, options=list(OVERLAYS), sizing_mode="stretch_width",
        disabled=pn.bind(lambda branches: branches is None, explorer.workspace.param.branches))
    return pn.Column(
        "### Branches",
        pn.pane.Markdown("Skeletonise the connecting objects: branch labels in the slices, "
                         "centrelines in 3D, the branchpoint network below.", margin=(0, 10)),
        prune, measure, pn.pane.Markdown("Slices show:", margin=(0, 10)), toggle,
        pn.pane.Markdown(analysis.param.message, margin=(0, 10)),
        sizing_mode="stretch_width",
    )


def _export_controls(explorer):
    return pn.Column(
        "### Export",
        pn.widgets.TextInput.from_param(explorer.param.out_dir, name="folder on the server"),
        _button("Save tables and graph", _guarded(explorer, "saving", explorer.export)),
        sizing_mode="stretch_width",
    )


def explorer_layout(explorer):
    """Build the page for one browser session."""
    ws = explorer.workspace
    main_slice = SliceBrowser(workspace=ws, axis="z")
    side_slices = [SliceBrowser(workspace=ws, axis=a, display_size=320) for a in ("y", "x")]
    network_view = NetworkView(workspace=ws)
    tables = TableView(workspace=ws)
    view3d = View3D(workspace=ws, width=640, height=480)
    branch_network = BranchNetworkView(workspace=ws)
    branch_tables = BranchTableView(workspace=ws)
    explorer.branches.link(main_slice, *side_slices)

    header = pn.pane.Markdown(
        pn.bind(lambda title, message: f"## Plexus network explorer\n{title}  \n*{message}*",
                ws.param.title, explorer.param.message),
        sizing_mode="stretch_width",
    )
    sidebar = pn.Column(
        _data_controls(explorer), _network_controls(explorer), _branch_controls(explorer),
        _export_controls(explorer),
        width=SIDEBAR_WIDTH,
    )
    views = pn.Column(
        header,
        pn.Row(main_slice.panel(height=560), network_view.panel(), sizing_mode="stretch_width"),
        pn.Row(pn.Column(view3d.panel(), css_classes=["plexus-view3d"],
                         sizing_mode="stretch_width"),
               pn.Column(*(b.panel(height=300) for b in side_slices), sizing_mode="stretch_width"),
               sizing_mode="stretch_width"),
        tables.panel(),
        pn.pane.Markdown("### Branches of the connecting objects"),
        branch_network.panel(),
        branch_tables.panel(),
        sizing_mode="stretch_width",
    )
    return pn.Row(sidebar, views, sizing_mode="stretch_width")
