"""The network explorer: load volumes, build a network, look at it.

:class:`NetworkExplorer` is the dashboard's view-model. It owns one
:class:`~app.workspace.Workspace` (what every view shows) and one
:class:`~app.runner.Runner` (the long steps), and its actions are plain
methods: :meth:`load_demo`, :meth:`load_paths`, :meth:`load_uploads`,
:meth:`load_handoff`, :meth:`build`, :meth:`export`. The branches of the connecting
objects (skeleton, branch labels, branchpoint network) are :attr:`branches`, a
:class:`~app.branches.BranchAnalysis` sharing the workspace and the runner. The
views only display the workspace and call these actions, so everything here is
tested without a browser.

>>> explorer = NetworkExplorer()
>>> explorer.spacing_text = "2, 0.5, 0.5"
>>> explorer.parsed_spacing()
(2.0, 0.5, 0.5)
"""

import functools
import tempfile
from pathlib import Path

import param

from engine import InvalidInputError

from .branches import BranchAnalysis
from .runner import Runner
from .workspace import Workspace

METHODS = {
    "connecting objects": "connect",
    "proximity (centroids)": "proximity",
    "proximity (surfaces)": "surface",
}


@functools.lru_cache(maxsize=1)
def demo_inputs():
    """The frog demo, read once per server process (arrays are read-only)."""
    from engine import datasets

    frog = datasets.frog_tissues()
    nodes, edges, spacing = datasets.frog_network_inputs()
    nodes.setflags(write=False)
    edges.setflags(write=False)
    return nodes, edges, spacing, frog.tissue_names


@functools.lru_cache(maxsize=4)
def demo_network(search):
    """The frog network for a search radius, computed once per process."""
    from engine import network

    nodes, edges, spacing, _ = demo_inputs()
    return network.connect(nodes, edges, search=search, spacing=spacing,
                           keep_edge_labels=True)


class NetworkExplorer(param.Parameterized):
    """State and actions of the network explorer dashboard.

    Parameters
    ----------
    nodes_path, edges_path, image_path : str
        Tifs on the server ("" = not used). Nodes are required; edges for
        the "connecting objects" method; the image is for display only,
        and may also be a zarr or OME-Zarr folder (read lazily).
    spacing_text : str
        "dz, dy, dx"; empty = take the spacing from the tif metadata.
    method : str
        One of :data:`METHODS`.
    search : float
        Search radius around each node (physical units), for "connecting
        objects".
    radius : float
        Distance for the proximity methods (0 = not used).
    k : int
        Nearest neighbours for "proximity (centroids)" (0 = not used).
    trunks : int
        Drop the N largest connecting objects.
    out_dir : str
        Folder that :meth:`export` writes to.
    """

    nodes_path = param.String(default="", doc="node label tif on the server")
    edges_path = param.String(default="", doc="connecting objects tif on the server")
    image_path = param.String(default="", doc="intensity tif or zarr on the server (optional)")
    spacing_text = param.String(default="", doc="dz, dy, dx (empty: from the tif)")
    method = param.Selector(objects=list(METHODS), default="connecting objects")
    search = param.Number(default=3.0, bounds=(0, None), softbounds=(0, 50))
    radius = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 200))
    k = param.Integer(default=0, bounds=(0, None), softbounds=(0, 20))
    trunks = param.Integer(default=0, bounds=(0, None), softbounds=(0, 10))
    out_dir = param.String(default="plexus-explorer-output")
    message = param.String(default="")

    def __init__(self, **params):
        super().__init__(**params)
        self.workspace = Workspace()
        self.runner = Runner()
        self._edges = None  # the connecting objects, kept apart from the display layers
        #: Skeleton and branches of the connecting objects (the "Branches" control).
        self.branches = BranchAnalysis(workspace=self.workspace, runner=self.runner,
                                       volume=lambda: self._edges)

    # -- inputs ----------------------------------------------------------------
    def parsed_spacing(self):
        """The spacing typed by the user, or None when the field is empty."""
        text = self.spacing_text.strip()
        if not text:
            return None
        try:
            values = tuple(float(v) for v in text.replace(";", ",").split(","))
        except ValueError:
            raise InvalidInputError(
                f"spacing must be three numbers dz, dy, dx (e.g. 2, 0.5, 0.5), got {text!r}"
            ) from None
        if len(values) != 3 or min(values) <= 0:
            raise InvalidInputError(
                f"spacing must be three positive numbers dz, dy, dx, got {text!r}"
            )
        return values

    def load_demo(self, *, build=True):
        """Load the embedded frog: organs as nodes, vessels and nerves as edges."""
        nodes, edges, spacing, names = demo_inputs()
        self.spacing_text = ", ".join(f"{s:g}" for s in spacing)
        self.method, self.search = "connecting objects", 3.0
        self._edges = edges
        self.workspace.set_volumes(labels={"nodes": nodes}, spacing=spacing, names=names,
                                   title="Frog tissues (pyvista's frog): organs linked by "
                                         "blood vessels and nerves")
        self.message = "Loaded the frog demo."
        if build:
            self.workspace.set_network(demo_network(3.0))
            self.message = "Frog demo: organs linked by blood vessels and nerves."

    def load_paths(self):
        """Read the tifs named in ``nodes_path``, ``edges_path``, ``image_path``.

        The reading runs in the background (:attr:`runner`); the views
        switch to the new volumes when it is done.
        """
        if not self.nodes_path.strip():
            raise InvalidInputError("give the path of a node label tif (nodes path)")

        def path(text):
            return Path(text.strip()).expanduser() if text.strip() else None

        spacing = self.parsed_spacing()
        self.runner.run("reading the tifs", read_inputs, path(self.nodes_path),
                        path(self.edges_path), path(self.image_path), spacing=spacing,
                        on_done=self._apply_inputs)

    def load_uploads(self, nodes, edges=None, image=None, *, names=("upload.tif",) * 3):
        """Read uploaded tif bytes (from the browser's file inputs)."""
        if not nodes:
            raise InvalidInputError("choose a node label tif to upload first")
        spacing = self.parsed_spacing()
        self.runner.run("reading the uploads", _read_uploads, (nodes, edges, image), names,
                        spacing=spacing, on_done=self._apply_inputs)

    def load_handoff(self, *, nodes=None, edges=None):
        """Open labels another page handed over (:mod:`app.handoff` tokens).

        ``nodes`` and ``edges`` are tokens (or None); the segmentation
        page links here with ``?nodes=TOKEN&edges=TOKEN``. Without edges
        the method switches to proximity, which needs none.

        Raises
        ------
        InvalidInputError
            If a token is unknown or expired, or nodes are missing.
        """
        from . import handoff

        if not nodes:
            raise InvalidInputError("a hand-off needs node labels (?nodes=TOKEN)")
        sent = handoff.get(nodes)
        edge_labels = handoff.get(edges).labels if edges else None
        if edge_labels is not None and edge_labels.shape != sent.labels.shape:
            raise InvalidInputError(
                f"the edges handed over have shape {edge_labels.shape}, the nodes "
                f"{sent.labels.shape}: they must match"
            )
        image = sent.image if sent.image is not None and sent.image.shape == sent.labels.shape \
            else None
        self._apply_inputs({"nodes": sent.labels, "edges": edge_labels, "image": image,
                            "spacing": sent.spacing, "title": sent.title or "handed-over labels"})
        if edge_labels is None:
            self.method = "proximity (centroids)"

    def load_page_args(self, args):
        """Load what a page address asks for; True if it asked for anything.

        ``args`` is ``pn.state.session_args`` (name -> list of bytes):
        ``nodes`` and ``edges`` hand-off tokens. A bad token is shown as
        the page's error, and the page opens empty rather than failing.
        """
        def first(name):
            values = (args or {}).get(name) or [b""]
            value = values[0]
            return (value.decode() if isinstance(value, bytes) else str(value)).strip()

        nodes, edges = first("nodes"), first("edges")
        if not (nodes or edges):
            return False
        try:
            self.load_handoff(nodes=nodes, edges=edges or None)
        except InvalidInputError as error:
            self.runner.error = f"opening the labels sent to this page: {error}"
        return True

    def _apply_inputs(self, inputs):
        self._edges = inputs["edges"]
        spacing = inputs["spacing"]
        self.spacing_text = ", ".join(f"{s:g}" for s in spacing)
        self.workspace.set_volumes(image=inputs["image"], labels={"nodes": inputs["nodes"]},
                                   spacing=spacing, names={}, title=inputs["title"])
        self.message = (f"Loaded {inputs['title']}: {inputs['nodes'].shape} voxels of "
                        f"{spacing}. Set the method and build the network.")

    # -- the network -----------------------------------------------------------
    def network_job(self):
        """The engine call :meth:`build` runs: ``(function, kwargs)``."""
        from engine import network

        ws = self.workspace
        nodes = ws.labels.get("nodes")
        if nodes is None:
            raise InvalidInputError("load node labels first (or the demo)")
        method = METHODS[self.method]
        spacing = ws.spacing
        if method == "connect":
            if self._edges is None:
                raise InvalidInputError(
                    "'connecting objects' needs an edges tif; load one, or use a proximity method"
                )
            return network.connect, dict(nodes=nodes, edges=self._edges, search=self.search,
                                         spacing=spacing, trunks=self.trunks,
                                         keep_edge_labels=True)
        if method == "proximity":
            if not self.radius and not self.k:
                raise InvalidInputError("set a radius or k (nearest neighbours) for proximity")
            return (lambda nodes, progress=None, **kw: network.proximity(nodes, **kw)), dict(
                nodes=nodes, radius=self.radius or None, k=self.k or None, spacing=spacing)
        if not self.radius:
            raise InvalidInputError("set a radius (boundary distance) for surface proximity")
        return network.surface_proximity, dict(nodes=nodes, distance=self.radius,
                                               spacing=spacing)

    def build(self):
        """Build the network in the background; the views update when done."""
        try:
            func, kwargs = self.network_job()
        except InvalidInputError as error:
            self.runner.error = str(error)
            return
        self.runner.run("building the network", func, on_done=self._network_built, **kwargs)

    def _network_built(self, net):
        self.workspace.set_network(net)
        stats = net.statistics()
        self.message = (f"{stats['n_nodes']} nodes, {stats['n_edges']} linked pairs "
                        f"({self.method}).")

    def export(self, directory=None):
        """Write the network's tables, graph and stats (``Network.save``)."""
        net = self.workspace.network
        if net is None:
            raise InvalidInputError("build a network before exporting it")
        out = Path(directory or self.out_dir).expanduser()
        net.save(out, excel=True)
        self.message = f"Saved edges.csv, nodes.csv, network.xlsx, network.graphml in {out}/"
        return out

    # -- the page ---------------------------------------------------------------
    def panel(self):
        """The whole dashboard (see :mod:`app.explorer_view`)."""
        from .explorer_view import explorer_layout

        return explorer_layout(self)


def read_inputs(nodes, edges=None, image=None, *, spacing=None, title=None, progress=None):
    """Read node labels (and edges, image) from tifs, checking they fit together.

    Returns a dict with ``nodes``, ``edges``, ``image``, ``spacing`` and
    ``title``; the first file's spacing is used for all unless ``spacing``
    is given. An image that is a zarr folder stays on disk (a
    :class:`~app.volume_source.MultiscaleVolume`): it is only displayed,
    so the slice views read the planes they show.
    """
    from engine import io as eio

    node_labels, spacing = eio.read_labels(nodes, spacing=spacing, name="nodes")
    if progress is not None:
        progress(1, 3)
    edge_labels = picture = None
    if edges is not None:
        edge_labels, _ = eio.read_labels(edges, spacing=spacing, name="edges")
    if progress is not None:
        progress(2, 3)
    if image is not None and Path(image).is_dir():
        from .volume_source import open_volume

        picture, _ = open_volume(image, spacing=spacing)
    elif image is not None:
        picture, _ = eio.read_tif(image, spacing=spacing)
    for other, path in ((edge_labels, edges), (picture, image)):
        if other is not None and other.shape != node_labels.shape:
            raise InvalidInputError(
                f"{Path(path).name} has shape {other.shape}, the nodes "
                f"{Path(nodes).name} have {node_labels.shape}: they must match"
            )
    return {"nodes": node_labels, "edges": edge_labels, "image": picture,
            "spacing": spacing, "title": title or Path(nodes).name}


def _read_uploads(contents, names, *, spacing=None, progress=None):
    with tempfile.TemporaryDirectory(prefix="plexus-upload-") as tmp:
        paths = []
        for data, name, role in zip(contents, names, ("nodes", "edges", "image")):
            path = None
            if data:
                path = Path(tmp) / f"{role}-{Path(name).name}"
                path.write_bytes(data)
            paths.append(path)
        return read_inputs(*paths, spacing=spacing, title=Path(names[0]).name,
                           progress=progress)
