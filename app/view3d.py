"""The 3D view: label surfaces and the network, drawn where it is cheapest.

Three ways to show one :class:`app.scene3d.Scene`:

``"browser"``
    ``pn.pane.VTK``: the triangles go to the browser, vtk.js draws them
    with WebGL. About 13 bytes a triangle, so only for small scenes.
``"server"``
    A trame server renders on this machine (EGL, no display needed)
    and streams images to an iframe: any size of scene, interactive.
``"image"``
    A static PNG rendered here: for browsers without WebGL.

In ``"auto"`` mode the view picks the browser up to a triangle budget,
the server above it, and the image when the browser reports no WebGL.

>>> import numpy as np
>>> from app.workspace import Workspace
>>> labels = np.zeros((8, 10, 12), np.uint8); labels[2:5, 2:6, 3:9] = 1
>>> ws = Workspace(spacing=(2.0, 1.0, 1.0)); ws.set_volumes(labels={"nodes": labels})
>>> view = View3D(ws, triangle_budget=100)
>>> view.active_mode, view.status
('server', '216 triangles: rendered on the server (above the 100 budget for the browser)')
"""

import asyncio
import threading
import uuid

import panel as pn
import param

from app import scene3d
from app.workspace import Workspace
from engine import InvalidInputError

MODES = ("auto", "browser", "image", "server")

#: Address of the trame page. ``sessionURL`` points the page's client
#: straight at the server's websocket; without it the client first asks
#: a session launcher at ``/paraview/`` (a 405 error in the console).
TRAME_PAGE = "http://{host}:{port}/index.html?sessionURL=ws://USE_HOST/ws"

NOTHING_TO_SHOW = "Nothing to show yet: load labels, build a network or measure branches."
WAITING_FOR_PROBE = "Checking whether this browser can draw with WebGL..."


def human_count(n):
    """Short count for a status line: 812, 297k, 2.4M.

    >>> human_count(812), human_count(297_634), human_count(2_400_000)
    ('812', '298k', '2.4M')
    """
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return str(n)


class WebGLProbe(pn.custom.JSComponent):
    """Invisible component that reports whether the browser has WebGL.

    ``webgl`` stays None until a browser has rendered the component.
    """

    webgl = param.Boolean(default=None, allow_None=True, doc="Can this browser create a WebGL context?")

    _esm = """
    export function render({ model }) {
      let ok = false;
      try {
        const canvas = document.createElement("canvas");
        ok = Boolean(canvas.getContext("webgl2") || canvas.getContext("webgl"));
      } catch (error) {
        ok = false;
      }
      model.webgl = ok;
      return document.createElement("span");
    }
    """


class RemoteRenderServer:
    """A trame server rendering one pyvista plotter, on its own thread.

    The browser gets images rendered here (``PyVistaRemoteView``) and
    sends back mouse events, so the scene never leaves this machine.
    The server has its own asyncio loop on a daemon thread, which keeps
    it independent of whichever loop Panel or Jupyter runs; every VTK call
    made while it runs should go through :meth:`call` so renders never
    overlap.

    >>> import pyvista as pv  # doctest: +SKIP
    >>> server = RemoteRenderServer(pv.Plotter(off_screen=True)).start()  # doctest: +SKIP
    >>> server.url  # doctest: +SKIP
    'http://127.0.0.1:41887/index.html?sessionURL=ws://USE_HOST/ws'
    """

    def __init__(self, plotter, *, host="127.0.0.1", port=0, url_template=TRAME_PAGE):
        self.plotter = plotter
        self.host = host
        self.requested_port = int(port)
        self.url_template = url_template
        self._name = None
        self._server = None
        self._view = None
        self._loop = None
        self._thread = None

    @property
    def running(self):
        """True once the server listens."""
        return self._thread is not None and self._thread.is_alive() and self._loop is not None

    @property
    def port(self):
        """The port it listens on (chosen by the system when asked for 0)."""
        return None if self._server is None else self._server.port

    @property
    def url(self):
        """Address of the page to put in an iframe."""
        return self.url_template.format(host=self.host, port=self.port)

    def start(self, timeout=30):
        """Start listening; returns self once the server is ready."""
        from trame.app import get_server
        from trame.ui.html import DivLayout
        from trame_pyvista.widgets import PyVistaRemoteView

        # Unique names: trame keeps servers in a global registry by name.
        self._name = f"plexus-3d-{uuid.uuid4().hex}"
        self._server = get_server(self._name, client_type="vue3")
        with DivLayout(self._server) as layout:
            layout.root.style = "position: fixed; inset: 0; margin: 0;"
            self._view = PyVistaRemoteView(self.plotter, style="width: 100%; height: 100%;")
        ready = threading.Event()
        self._server.controller.on_server_ready.add(lambda **_: ready.set())
        self._thread = threading.Thread(target=self._serve, name="plexus-trame", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise RuntimeError(f"the trame server did not start within {timeout} s")
        return self

    def _serve(self):
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        # Port, host and timeout are explicit: trame otherwise reads them from
        # sys.argv, where `panel serve --port` would leak in. timeout=0 keeps
        # the server up while no browser is connected.
        self._server.start(
            port=self.requested_port, host=self.host, open_browser=False,
            show_connection_info=False, disable_logging=True, timeout=0,
            thread=True, exec_mode="main",
        )

    def call(self, function, timeout=60):
        """Run ``function()`` on the server's thread and return its result."""
        if not self.running:
            return function()

        async def run():
            return function()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def update(self):
        """Render again and push the image to the connected browsers."""
        if self.running:
            self.call(self._view.update)

    def stop(self, *, delay=0.0, on_stopped=None, timeout=10):
        """Stop listening and end the thread.

        Parameters
        ----------
        delay : float
            Seconds to keep serving first, without blocking the caller:
            a page still showing the view throws when its server vanishes,
            so give the browser time to unload it. 0 stops now and waits.
        on_stopped : callable or None
            Called on the server's thread once no render can happen any
            more (closing the plotter there is safe: its OpenGL context
            lives on that thread).
        """
        if not self.running:
            self._thread = None
            return

        async def shutdown():
            from trame.app.core import AVAILABLE_SERVERS

            await asyncio.sleep(delay)
            if on_stopped is not None:
                on_stopped()
            await self._server.stop()
            # trame keeps every server by name; drop this one and its view.
            AVAILABLE_SERVERS.pop(self._name, None)
            self._view = None

        done = asyncio.run_coroutine_threadsafe(shutdown(), self._loop)
        if delay == 0:
            done.result(timeout)
            self._thread.join(timeout)
            self._thread = None


class View3D(param.Parameterized):
    """View-model of the 3D view of a :class:`~app.workspace.Workspace`.

    It builds a scene from the workspace's label layer, network and
    branch centrelines (``workspace.branches``),
    highlights ``workspace.selected``, and decides how the scene reaches
    the screen (see the module docstring). :meth:`panel` returns the
    Panel layout; :meth:`show_in_notebook` shows the same scene through
    pyvista's trame backend in Jupyter.

    Parameters
    ----------
    workspace : Workspace
    layer : str or None
        Label layer drawn as surfaces (a key of ``workspace.labels``); None
        draws the network alone. Defaults to ``"nodes"`` when there is one.
    show_network, show_skeleton, skeleton_color, opacity, smoothing, mode,
    triangle_budget, max_triangles, step
        See each parameter's doc.
    """

    workspace = param.ClassSelector(class_=Workspace, doc="The shared state this view shows.")
    layer = param.Selector(default=None, objects=[], allow_None=True, doc="Label layer drawn as surfaces.")
    show_network = param.Boolean(default=True, doc="Draw nodes as spheres and edges as tubes.")
    show_skeleton = param.Boolean(default=True, doc="Draw the branch centrelines (workspace.branches) as tubes.")
    skeleton_color = param.Selector(default="branch", objects=["branch", "radius"],
                                    doc="Colour the skeleton by branch id or by mean radius.")
    opacity = param.Magnitude(default=0.6, doc="Opacity of the surfaces; below 1 the network shows through.")
    smoothing = param.Boolean(default=True, doc="Smooth the voxel staircase of the surfaces.")
    mode = param.Selector(default="auto", objects=list(MODES), doc="How the scene reaches the screen.")
    triangle_budget = param.Integer(
        default=1_000_000, bounds=(1, None),
        doc="Most triangles sent to the browser in auto mode; above it the server renders.")
    max_triangles = param.Integer(
        default=scene3d.DEFAULT_MAX_TRIANGLES, bounds=(1, None), allow_None=True,
        doc="Build cap: label volumes are strided until their surfaces fit (None: no cap).")
    step = param.Integer(default=None, bounds=(1, None), allow_None=True,
                         doc="Stride through the label volume (None: from max_triangles).")
    webgl = param.Boolean(default=None, allow_None=True, doc="Browser WebGL support (None: not known yet).")
    width = param.Integer(default=800, bounds=(100, None), doc="Pixels of the view.")
    height = param.Integer(default=600, bounds=(100, None), doc="Pixels of the view.")
    server_host = param.String(default="127.0.0.1", doc="Interface the trame server listens on.")
    server_url = param.String(
        default=TRAME_PAGE,
        doc="iframe address of the trame page ({host} and {port} filled in); change it where a "
            "proxy serves the port under another path.")

    # Outputs: set by the view-model, read by the views and the tests.
    scene = param.ClassSelector(class_=scene3d.Scene, default=None, allow_None=True, doc="The current scene.")
    n_triangles = param.Integer(default=0, doc="Triangles of the visible meshes.")
    active_mode = param.Selector(default="browser", objects=["browser", "image", "server"],
                                 doc="The mode in use (auto resolved).")
    status = param.String(default="", doc="Which mode is active and why.")

    def __init__(self, workspace=None, **params):
        if workspace is None:
            raise InvalidInputError("View3D needs a Workspace: View3D(workspace)")
        self._remote = None
        self._content = None
        self._layout = None
        self._vtk_pane = None
        self._pane_scene = None  # the scene the VTK pane shows
        self._remote_scene = None  # the scene the trame server shows
        self._image_plotter = self._image_scene = None
        self._notebook_viewers = []  # (scene, trame viewer) shown by show_in_notebook
        self._building = False
        self._offered_layers = False
        super().__init__(workspace=workspace, **params)
        self._rebuild()

    # ---- state -------------------------------------------------------

    def _sync_layer_choices(self):
        names = list(self.workspace.labels)
        self.param.layer.objects = list(names)  # a copy: param appends unknown values to it
        # None (no surfaces, the network alone) stays once layers were offered.
        chose_none = self.layer is None and self._offered_layers
        if self.layer not in names and not chose_none:
            self.layer = "nodes" if "nodes" in names else (names[0] if names else None)
        self._offered_layers = bool(names)

    @param.depends("workspace.labels", "workspace.network", "workspace.branches",
                   "workspace.spacing", "layer", "smoothing", "step", "max_triangles",
                   "width", "height", watch=True)
    def _rebuild(self):
        if self._building:  # the layer fallback below re-enters through its watcher
            return
        self._building = True
        try:
            self._sync_layer_choices()
            labels = self.workspace.labels.get(self.layer) if self.layer else None
            old = self.scene
            scene = scene3d.build_scene(
                labels, self.workspace.spacing, network=self.workspace.network,
                skeleton=self.workspace.branches, step=self.step,
                max_triangles=self.max_triangles, smoothing=self.smoothing, opacity=self.opacity,
                skeleton_color=self.skeleton_color, window_size=(self.width, self.height),
            )
            scene3d.set_network_visible(scene, self.show_network)
            scene3d.set_skeleton_visible(scene, self.show_skeleton)
            scene3d.highlight(scene, self.workspace.selected, surfaces=self._surfaces_are_nodes())
            with param.parameterized.batch_call_watchers(self):
                self.scene = scene
                self.n_triangles = scene3d.triangle_count(scene.plotter)
            self._resolve_mode()
            self._show(rebuilt=True)
            if old is not None and old is not self._pane_scene:
                if old is self._image_scene:
                    self._drop_image_plotter()
                old.plotter.close()
        finally:
            self._building = False

    def _surfaces_are_nodes(self):
        # Other layers (edges, communities) have ids that are not node labels.
        return self.layer == "nodes"

    @param.depends("workspace.selected", watch=True)
    def _on_selection(self):
        self._change(lambda: scene3d.highlight(
            self.scene, self.workspace.selected, surfaces=self._surfaces_are_nodes()))

    @param.depends("opacity", watch=True)
    def _on_opacity(self):
        self._change(lambda: scene3d.set_opacity(self.scene, self.opacity))

    @param.depends("skeleton_color", watch=True)
    def _on_skeleton_color(self):
        self._change(lambda: scene3d.color_skeleton(self.scene, self.skeleton_color))

    @param.depends("show_network", watch=True)
    def _on_show_network(self):
        self._set_visibility(lambda: scene3d.set_network_visible(self.scene, self.show_network))

    @param.depends("show_skeleton", watch=True)
    def _on_show_skeleton(self):
        self._set_visibility(lambda: scene3d.set_skeleton_visible(self.scene, self.show_skeleton))

    def _set_visibility(self, apply):
        """Show or hide meshes: the triangle count, hence the mode, may change."""
        mode = self.active_mode
        self._change(apply, refresh=False)
        self.n_triangles = scene3d.triangle_count(self.scene.plotter)
        self._resolve_mode()
        if self.active_mode == mode:
            self._refresh()
        else:
            self._show()

    @param.depends("mode", "webgl", "triangle_budget", watch=True)
    def _on_mode_inputs(self):
        self._resolve_mode()
        self._show()

    def _resolve_mode(self):
        n = self.n_triangles
        count = f"{human_count(n)} triangles"
        budget = human_count(self.triangle_budget)
        if self.mode != "auto":
            mode, why = self.mode, f"{count}: {self.mode} mode chosen"
        elif n == 0:
            mode, why = "browser", "nothing to show: no label layer, network or skeleton"
        elif self.webgl is False:
            mode, why = "image", f"{count}: this browser has no WebGL, so a static image is rendered on the server"
        elif n > self.triangle_budget:
            mode, why = "server", f"{count}: rendered on the server (above the {budget} budget for the browser)"
        else:
            mode, why = "browser", f"{count}: drawn in the browser with WebGL"
        step = self.scene.step if self.scene is not None else 1
        if step > 1:
            why += f"; surfaces from a 1-in-{step} subsample of the voxels"
        with param.parameterized.batch_call_watchers(self):
            self.active_mode = mode
            self.status = why

    def _change(self, apply, refresh=True):
        """Apply a colour/visibility change, then refresh what is shown."""
        if self.scene is None:
            return
        if self._remote is not None and self._remote.running:
            self._remote.call(apply)
        else:
            apply()
        if refresh:
            self._refresh()

    # ---- Panel -------------------------------------------------------

    def panel(self):
        """The 3D view: controls, a status line and the scene.

        The entry point must load vtk.js: ``pn.extension("vtk")``.

        Returns
        -------
        panel.Column
            The same layout on every call (Panel renders it per session).
        """
        if self._layout is None:
            probe = WebGLProbe(height=0, width=0, margin=0)
            probe.param.watch(lambda event: setattr(self, "webgl", event.new), "webgl")
            controls = pn.Column(pn.Row(
                pn.widgets.Select.from_param(self.param.layer, name="Surfaces", width=160),
                pn.widgets.FloatSlider.from_param(self.param.opacity, name="Opacity", width=160),
                pn.widgets.Checkbox.from_param(self.param.show_network, name="Network"),
                pn.widgets.Select.from_param(self.param.mode, name="Rendering", width=120),
            ), pn.Row(
                pn.widgets.Checkbox.from_param(self.param.show_skeleton, name="Skeleton"),
                pn.widgets.Select.from_param(self.param.skeleton_color, name="Skeleton colour",
                                             width=120),
            ))
            size = {"width": self.width, "height": self.height, "visible": False}
            self._message = pn.pane.Markdown(NOTHING_TO_SHOW, visible=False)
            self._image_pane = pn.pane.PNG(None, **size)
            self._iframe_pane = pn.pane.HTML("", **size)
            # The panes stay in the layout and are shown or hidden: taking a
            # VTK pane out of a layout breaks vtk.js ("getInteractor" errors).
            self._content = pn.Column(self._message, self._image_pane, self._iframe_pane)
            self._layout = pn.Column(controls, pn.pane.Markdown(self.param.status), probe, self._content)
            self._show()
        return self._layout

    def _show(self, rebuilt=False):
        """Show the active mode's pane (once panel() was called)."""
        if self._content is None or self.scene is None:
            return
        mode = None if self.n_triangles == 0 else self.active_mode
        if mode == "browser" and self.mode == "auto" and self.webgl is None:
            # A VTK pane in a browser without WebGL blanks the whole page
            # (no error is reported), so wait for the probe's answer.
            mode = None
        if mode != "server":
            self._stop_remote()
        self._message.object = (WAITING_FOR_PROBE if self.n_triangles else NOTHING_TO_SHOW)
        if mode == "browser":
            self._show_in_browser()
        elif mode == "image":
            self._image_pane.object = self.screenshot_png()
        elif mode == "server":
            if rebuilt or self._remote is None or not self._remote.running:
                self._start_remote()
            self._iframe_pane.object = (
                f'<iframe src="{self._remote.url}" title="3D view rendered on the server" '
                f'style="width: {self.width}px; height: {self.height}px; border: 0;"></iframe>')
        self._message.visible = mode is None
        self._image_pane.visible = mode == "image"
        self._iframe_pane.visible = mode == "server"
        if self._vtk_pane is not None:
            self._vtk_pane.visible = mode == "browser"

    def _show_in_browser(self):
        ren_win = self.scene.plotter.ren_win
        if self._vtk_pane is None:
            # No orientation widget: vtk.js throws from its resize observer
            # ("getViewportSize") after every synchronize() when it is on.
            self._vtk_pane = pn.pane.VTK(ren_win, width=self.width, height=self.height,
                                         orientation_widget=False)
            self._content.append(self._vtk_pane)
        elif self._vtk_pane.object is not ren_win:
            # A hidden pane keeps its old scene until shown: re-serialising
            # a scene nobody sees would cost 13 bytes a triangle for nothing.
            self._vtk_pane.object = ren_win
            if self._pane_scene is not None and self._pane_scene is not self.scene:
                self._pane_scene.plotter.close()
        self._pane_scene = self.scene

    def screenshot_png(self):
        """PNG bytes of the scene as it is now (what the image mode shows).

        Rendered with a plotter of its own: Panel's VTK pane renders the
        main one on its own thread, and an OpenGL context is only safe on
        the thread that last rendered with it.
        """
        if self._image_plotter is None or self._image_scene is not self.scene:
            self._drop_image_plotter()
            self._image_plotter = scene3d.add_plotter(self.scene, window_size=(self.width, self.height))
            self._image_scene = self.scene
        return scene3d.screenshot_png(self._image_plotter, window_size=(self.width, self.height))

    def _drop_image_plotter(self):
        if self._image_plotter is not None:
            scene3d.remove_plotter(self._image_scene, self._image_plotter)
            self._image_plotter = self._image_scene = None

    def _start_remote(self):
        self._stop_remote()
        plotter = scene3d.add_plotter(self.scene, window_size=(self.width, self.height))
        remote = RemoteRenderServer(plotter, host=self.server_host, url_template=self.server_url)
        self._remote = remote.start()
        self._remote_scene = self.scene

    def _stop_remote(self, delay=3.0):
        if self._remote is not None:
            if self._content is not None:
                self._iframe_pane.object = ""  # the browser unloads the page within the delay
            scene, plotter = self._remote_scene, self._remote.plotter
            self._remote.stop(delay=delay, on_stopped=lambda: scene3d.remove_plotter(scene, plotter))
            self._remote = self._remote_scene = None

    def _refresh(self):
        """Push a colour or visibility change to the active display."""
        for scene, viewer in self._notebook_viewers:
            if scene is self.scene:
                viewer.update()  # same thread: Jupyter's kernel runs its trame server
        if self._content is None:
            return
        if self.active_mode == "browser" and self._vtk_pane is not None and self._vtk_pane.visible:
            self._vtk_pane.synchronize()
        elif self.active_mode == "image":
            self._show()
        elif self._remote is not None:
            self._remote.update()

    @property
    def remote_url(self):
        """Address of the trame page while the server mode is shown, else None."""
        return self._remote.url if self._remote is not None and self._remote.running else None

    def close(self):
        """Stop the trame server (if any) and close the render windows."""
        self._stop_remote(delay=0)
        self._drop_image_plotter()
        for scene in {id(s): s for s in (self.scene, self._pane_scene) if s is not None}.values():
            scene.plotter.close()

    # ---- Jupyter -----------------------------------------------------

    def show_in_notebook(self, mode=None, **kwargs):
        """Show the scene in Jupyter through pyvista's trame backend.

        Parameters
        ----------
        mode : {"server", "client", "trame"} or None
            trame's mode: ``"server"`` renders here and streams images,
            ``"client"`` ships the triangles to the browser, ``"trame"``
            lets the user switch. None follows :attr:`active_mode`.
        **kwargs
            Passed to ``trame_pyvista.jupyter.show_trame`` (``handler``,
            ``server_proxy_prefix``, ...).

        Returns
        -------
        ipywidgets.HTML
            An iframe on the trame server that Jupyter's kernel runs.
        """
        from trame_pyvista.jupyter import show_trame

        if mode is None:
            mode = "client" if self.active_mode == "browser" else "server"
        # A plotter of its own (same meshes, so selections show): trame
        # renders it on the kernel's thread.
        plotter = scene3d.add_plotter(self.scene, window_size=(self.width, self.height))
        widget = show_trame(plotter, mode=mode, **kwargs)
        viewer = getattr(widget, "viewer", None)
        if viewer is not None:  # not with a custom handler: then it cannot follow selections
            self._notebook_viewers.append((self.scene, viewer))
        return widget
