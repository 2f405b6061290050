"""Slice browser: one plane of the volume with a label overlay.

:class:`SliceBrowser` holds the state (axis, index, contrast, colormap,
overlay layer, opacity) and computes :meth:`SliceBrowser.frame`, the
arrays one screen needs: the plane at display resolution as uint8 (the
contrast applied here, not in the browser) plus the overlay's colour
indices and label codes. A slider step on a 600 MB volume therefore
sends about 1 MB, whatever the volume's size. Volumes may be zarr arrays
or OME-Zarr pyramids (:func:`app.volume_source.open_volume`) larger than
memory: a frame reads only the chunks of its plane, from a downsampled
level when zoomed out, and nothing here reads a whole lazy volume.

The view (:meth:`SliceBrowser.panel`) is a Bokeh figure whose data
source is replaced on every change; hovering shows the label under the
pointer with its attributes, a click selects it.

Two optional hooks let a page draw on the slice without owning the
figure: :attr:`SliceBrowser.annotate` supplies an RGBA layer drawn over
the labels (a preview mask, scribbles), and :attr:`SliceBrowser.pointer`
receives presses, drags and taps in physical plane coordinates (the
pan tool steps aside while it is set, so a drag paints instead).
"""

import fastremap
import numpy as np
import panel as pn
import param
from bokeh.events import Pan, PanEnd, PanStart
from bokeh.models import (
    ColumnDataSource,
    CustomJSHover,
    HoverTool,
    LinearColorMapper,
    PanTool,
    Span,
)
from bokeh.palettes import Cividis256, Greys256, Inferno256, Magma256, Viridis256
from bokeh.plotting import figure

from . import slices
from .palette import PALETTE, SELECTED_INDEX, color_index, label_color  # noqa: F401
from .volume_source import is_lazy
from .workspace import LAYERS, Workspace

COLORMAPS = {
    "gray": list(reversed(Greys256)), "viridis": list(Viridis256),
    "magma": list(Magma256), "inferno": list(Inferno256), "cividis": list(Cividis256),
}
#: Hover texts are sent once per layer; beyond this many labels only ids show.
MAX_HOVER_LABELS = 20_000
#: Up to this many labels per layer, pixels carry label codes (palette per code).
MAX_CODED_LABELS = 65_536


class PlaneSlider(pn.widgets.IntSlider):
    """IntSlider whose changes reach Python at once.

    Panel batches browser events for 50 ms (``_debounce``) before running
    callbacks; for a slice slider that is half the latency budget of a
    step, so this slider waits only 5 ms.
    """

    _debounce = 5


class SliceBrowser(param.Parameterized):
    """State and actions of one slice view over a :class:`Workspace`.

    Parameters
    ----------
    workspace : Workspace
    axis : {"z", "y", "x"}
        The axis normal to the plane ("z" shows YX planes).
    index : int
        Plane index along ``axis``; kept equal to ``workspace.cursor``.
    clim : (float, float)
        Contrast limits of the image.
    cmap : str
        Colormap of the image.
    overlay : str
        Label layer drawn over the image, or "none".
    opacity : float
        Opacity of the overlay.
    display_size : int
        Longest side, in pixels, of what is sent to the browser.
    annotate : callable or None
        ``annotate(axis, index, step)`` returns an RGBA plane (uint32,
        the shape of the displayed plane) drawn over the labels, or
        None. Call :meth:`refresh_annotation` when it would change.
    pointer : callable or None
        ``pointer(kind, u, v)`` with kind ``"start"``, ``"drag"``,
        ``"end"`` or ``"tap"`` and (u, v) the physical point in the
        plane. While set, drags go to it instead of panning and taps
        instead of selecting.

    Examples
    --------
    >>> nodes = np.zeros((3, 40, 50), np.uint16); nodes[1, 10:20, 10:30] = 9
    >>> ws = Workspace(); ws.set_volumes(labels={"nodes": nodes})
    >>> browser = SliceBrowser(workspace=ws, display_size=25)
    >>> frame = browser.frame()
    >>> frame["code"].shape, frame["palette"][frame["code"].max()] == label_color(9)
    ((20, 25), True)
    """

    workspace = param.ClassSelector(class_=Workspace)
    axis = param.Selector(objects=list(slices.AXES), default="z")
    index = param.Integer(default=0, bounds=(0, 0))
    clim = param.Range(default=(0.0, 1.0))
    clim_bounds = param.Range(default=(0.0, 1.0), doc="range of the contrast slider")
    cmap = param.Selector(objects=list(COLORMAPS), default="gray")
    overlay = param.Selector(objects=["none", *LAYERS], default="nodes")
    opacity = param.Number(default=0.45, bounds=(0.0, 1.0), step=0.05)
    display_size = param.Integer(default=512, bounds=(16, 4096))
    annotate = param.Callable(default=None, allow_None=True)
    pointer = param.Callable(default=None, allow_None=True)
    refresh = param.Event(doc="redraw: labels were edited in place")

    def __init__(self, **params):
        super().__init__(**params)
        self._layer_cache = {}
        self.workspace.param.watch(self._on_cursor, "cursor")
        self.workspace.param.watch(self._on_volumes, ["image", "labels"])
        self.workspace.param.watch(self._on_table, "node_table")
        self._on_volumes()

    # -- state kept in step with the workspace --------------------------------
    def _on_volumes(self, *_):
        self._layer_cache.clear()
        ws = self.workspace
        if ws.image is not None:
            low, high, lowest, highest = slices.robust_limits(ws.image)
            self.param.update(clim_bounds=(lowest, highest), clim=(low, high))
        layers = [name for name in LAYERS if name in ws.labels]
        self.param.overlay.objects = ["none", *layers]
        if self.overlay not in self.param.overlay.objects:
            self.overlay = layers[0] if layers else "none"
        self._update_bounds()

    def _on_table(self, *_):
        self._layer_cache.clear()

    def _update_bounds(self):
        shape = self.workspace.shape
        n = shape[slices.axis_number(self.axis)] if shape else 1
        self.param.index.bounds = (0, max(n - 1, 0))
        self.index = int(min(self.workspace.cursor[slices.axis_number(self.axis)], n - 1))

    def _on_cursor(self, event):
        self.index = int(event.new[slices.axis_number(self.axis)])

    @param.depends("axis", watch=True)
    def _on_axis(self):
        self._update_bounds()

    @param.depends("index", watch=True)
    def _on_index(self):
        cursor = list(self.workspace.cursor)
        cursor[slices.axis_number(self.axis)] = self.index
        self.workspace.cursor = tuple(cursor)

    def refresh_labels(self):
        """Redraw after the workspace's label volumes were edited in place."""
        self._layer_cache.clear()
        self.param.trigger("refresh")

    def refresh_annotation(self):
        """Redraw the :attr:`annotate` layer (nothing else)."""
        self.param.trigger("annotate")

    # -- what one screen needs -----------------------------------------------
    @property
    def available_overlays(self):
        """"none" plus the label layers the workspace has."""
        return ["none", *[n for n in LAYERS if n in self.workspace.labels]]

    def frame(self):
        """Arrays for the current plane, at display resolution.

        Returns
        -------
        dict
            ``image`` (uint8, or None without an image); ``code`` (the
            overlay as small integers, or None without overlay) and
            ``palette`` (one colour per code), so that the colour of a
            pixel is ``palette[code]``; ``width`` and ``height``
            (physical); ``step`` (the stride used). Up to
            :data:`MAX_CODED_LABELS` labels, a code is the index of the
            label in :meth:`layer_ids` (hover decodes it); beyond, codes
            are palette indices. For a lazy (zarr) layer, the ids are
            those of this plane.
        """
        ws = self.workspace
        shape = ws.shape
        if shape is None:
            return {"image": None, "code": None, "palette": [], "width": 1.0,
                    "height": 1.0, "step": 1, "annotation": None}
        step = self._step()
        image = code = None
        palette = []
        if ws.image is not None:
            raw = slices.plane(ws.image, self.axis, self.index, step)
            image = slices.to_uint8(raw, *self.clim)
        if self.overlay != "none" and self.overlay in ws.labels:
            labels = slices.plane(ws.labels[self.overlay], self.axis, self.index, step)
            code, palette = self._encode(labels)
        width, height = slices.physical_extent(shape, self.axis, ws.spacing)
        return {"image": image, "code": code, "palette": palette, "width": width,
                "height": height, "step": step, "annotation": self.annotation(step)}

    def annotation(self, step=None):
        """The :attr:`annotate` layer of the current plane (uint32 RGBA), or None."""
        shape = self.workspace.shape
        if self.annotate is None or shape is None:
            return None
        if step is None:
            step = self._step()
        return self.annotate(self.axis, self.index, step)

    def _step(self):
        """Display stride of the current plane (the workspace has volumes)."""
        shape = self.workspace.shape
        rows, cols = (shape[slices.axis_number(a)] for a in slices.plane_axes(self.axis))
        return slices.display_step((rows, cols), self.display_size)

    def is_lazy(self, layer):
        """True when ``layer`` is read from disk (zarr): its ids are per plane."""
        return is_lazy(self.workspace.labels.get(layer))

    def _encode(self, labels):
        selected = self.workspace.selected if self.overlay == "nodes" else None
        if self.is_lazy(self.overlay):
            ids = self._plane_ids(self.overlay, labels)
        else:
            ids = self.layer_ids(self.overlay)
        if len(ids) <= MAX_CODED_LABELS:
            # One byte or two per pixel, and a selection only changes the palette.
            code = np.searchsorted(ids, labels).astype(np.uint8 if len(ids) <= 256 else np.uint16)
            palette = [PALETTE[i] for i in color_index(ids)]
            if selected is not None:
                where = np.searchsorted(ids, selected)
                if where < len(ids) and ids[where] == selected:
                    palette[where] = PALETTE[SELECTED_INDEX]
            return code, palette
        code = color_index(labels)
        if selected is not None:
            code[labels == selected] = SELECTED_INDEX
        return code, list(PALETTE)

    def layer_ids(self, layer):
        """Sorted label ids of a layer (0 included), computed once.

        For a lazy (zarr) layer, the ids of the plane on screen instead:
        the ids of the whole layer would mean reading all of it.
        """
        key = ("ids", layer)
        if key not in self._layer_cache:
            volume = self.workspace.labels[layer]
            if is_lazy(volume):
                return self._plane_ids(
                    layer, slices.plane(volume, self.axis, self.index, self._step()))
            ids = fastremap.unique(np.asarray(volume))
            self._layer_cache[key] = np.union1d(ids, [0]).astype(ids.dtype)
        return self._layer_cache[key]

    def _plane_ids(self, layer, labels):
        """Sorted ids of one plane of a lazy layer, kept as the layer's ids."""
        ids = fastremap.unique(np.asarray(labels))
        ids = np.union1d(ids, [0]).astype(ids.dtype)
        old = self._layer_cache.get(("ids", layer))
        if old is None or not np.array_equal(old, ids):
            self._layer_cache[("ids", layer)] = ids
            self._layer_cache.pop(("texts", layer), None)  # codes now mean other labels
        return ids

    def hover_texts(self, layer):
        """Text shown on hover for each code of a layer (list; "" for 0)."""
        key = ("texts", layer)
        if key in self._layer_cache:
            return self._layer_cache[key]
        ids = self.layer_ids(layer)
        # A lazy layer's ids change with the plane: each label is described once.
        described = self._layer_cache.setdefault(("described", layer), {})
        if len(ids) > MAX_CODED_LABELS:
            texts = []  # codes are palette indices then: nothing to decode
        elif len(ids) > MAX_HOVER_LABELS:
            texts = [str(int(i)) if i else "" for i in ids]
        else:
            texts = []
            for i in map(int, ids):
                if i and i not in described:
                    described[i] = self._describe(layer, i)
                texts.append(described.get(i, ""))
        self._layer_cache[key] = texts
        return texts

    def _describe(self, layer, label):
        ws = self.workspace
        if layer == "communities":
            return f"community {label}"
        if layer == "edges":
            return f"connecting object {label}"
        if layer == "branches":
            return self._describe_branch(label)
        text = f"{ws.label_name(label)} (label {label})"
        table = ws.node_table
        if table is not None:
            rows = table.loc[table["label"] == label]
            if len(rows):
                row = rows.iloc[0]
                text += (f", degree {int(row['degree'])}, community {int(row['community'])}"
                         f", volume {row['volume']:.4g}")
        return text

    def _describe_branch(self, label):
        text = f"branch {label}"
        branches = self.workspace.branches
        if branches is not None:
            key = ("branch rows", id(branches))
            if key not in self._layer_cache:
                self._layer_cache[key] = branches.table.set_index("branch_id")
            table = self._layer_cache[key]
            if label in table.index:
                row = table.loc[label]
                text += (f", length {row['length']:.4g}, tortuosity {row['tortuosity']:.3g}"
                         f", mean radius {row['mean_radius']:.3g}")
        return text

    def label_at(self, u, v, layer="nodes"):
        """Label of ``layer`` at the physical point (u, v) of the current plane."""
        ws = self.workspace
        if layer not in ws.labels or ws.shape is None:
            return 0
        voxel = slices.voxel_at(self.axis, self.index, u, v, ws.shape, ws.spacing)
        if voxel is None:
            return 0
        return int(ws.labels[layer][voxel])  # one voxel: a zarr reads one chunk

    def click(self, u, v):
        """Select the node under (u, v); a click on background clears."""
        ws = self.workspace
        if ws.shape is None:
            return
        voxel = slices.voxel_at(self.axis, self.index, u, v, ws.shape, ws.spacing)
        label = self.label_at(u, v, "nodes")
        ws.select(label or None, voxel=voxel)

    def panel(self, *, height=520):
        """The thin Panel view (figure plus controls)."""
        return _SliceView(self, height=height).layout


class _SliceView:
    """Bokeh figure and widgets of a :class:`SliceBrowser` (no state of its own)."""

    def __init__(self, browser, *, height):
        self.browser = browser
        frame = browser.frame()
        self.source = ColumnDataSource(self._data(frame), name="plexus-slice-source")
        fig = figure(
            height=height, sizing_mode="stretch_width", match_aspect=True,
            tools="pan,wheel_zoom,box_zoom,reset", active_scroll="wheel_zoom",
            output_backend="canvas", toolbar_location="above",
            background_fill_color="black", border_fill_color="white",
        )
        fig.x_range.range_padding = fig.y_range.range_padding = 0
        fig.y_range.flipped = True  # row 0 at the top, as in every image viewer
        fig.grid.visible = False
        self.image_mapper = LinearColorMapper(palette=COLORMAPS[browser.cmap], low=0, high=255)
        self.image_glyph = fig.image(
            "image", x=0, y=0, dw="dw", dh="dh", source=self.source,
            color_mapper=self.image_mapper,
        )
        self.label_mapper = LinearColorMapper(palette=PALETTE)
        self._set_palette(frame["palette"])
        self.label_glyph = fig.image(
            "code", x=0, y=0, dw="dw", dh="dh", source=self.source,
            color_mapper=self.label_mapper, global_alpha=browser.opacity,
        )
        # The annotate layer has a source of its own: a brush stroke resends only it.
        self.annotation_source = ColumnDataSource(self._annotation_data(frame),
                                                  name="plexus-annotation-source")
        self.annotation_glyph = fig.image_rgba(
            "rgba", x=0, y=0, dw="dw", dh="dh", source=self.annotation_source,
        )
        self.annotation_glyph.visible = frame["annotation"] is not None
        self.describe = CustomJSHover(
            args={"texts": []}, code="return texts[value] || '';"
        )
        fig.add_tools(HoverTool(
            renderers=[self.label_glyph],
            tooltips=[("", "@code{custom}")],
            formatters={"@code": self.describe},
        ))
        self.spans = [Span(dimension="height", line_color="#ffcc00", line_alpha=0.5),
                      Span(dimension="width", line_color="#ffcc00", line_alpha=0.5)]
        fig.add_layout(self.spans[0])
        fig.add_layout(self.spans[1])
        fig.on_event("tap", self._on_tap)
        for event in (PanStart, Pan, PanEnd):
            fig.on_event(event, self._on_pan)
        self.pan_tool = fig.select_one(PanTool)
        fig.xaxis.axis_label, fig.yaxis.axis_label = self._axis_labels()
        self.figure = fig
        self._update_hover()
        self._update_spans()
        self._last_shape = self._shape(frame)
        self._set_drag_tool()

        widgets = pn.Param(
            browser.param,
            parameters=["axis", "index", "overlay", "opacity", "cmap", "clim"],
            widgets={
                "axis": {"type": pn.widgets.RadioButtonGroup},
                "index": {"type": PlaneSlider, "name": "plane",
                          "css_classes": ["plexus-plane-slider"]},
                "clim": {"type": pn.widgets.RangeSlider, "name": "contrast"},
            },
            show_name=False, sizing_mode="stretch_width",
        )
        # On the figure itself: a Bokeh pane does not wrap it in an element.
        fig.css_classes = ["plexus-slice", f"plexus-slice-{browser.axis}"]
        self.pane = pn.pane.Bokeh(fig, sizing_mode="stretch_width")
        self.title = pn.pane.Markdown(self._title(), margin=(0, 10),
                                      css_classes=["plexus-slice-title"])
        self.layout = pn.Column(self.title, self.pane, widgets, sizing_mode="stretch_width")
        browser.param.watch(self._redraw, ["index", "axis", "clim", "overlay", "display_size"])
        browser.param.watch(self._restyle, ["cmap", "opacity"])
        browser.param.watch(self._redraw, "refresh")
        browser.param.watch(self._redraw_annotation, "annotate")
        browser.param.watch(self._set_drag_tool, "pointer")
        browser.workspace.param.watch(self._redraw, ["image", "labels"])
        browser.workspace.param.watch(self._on_selected, "selected")
        browser.workspace.param.watch(self._on_cursor, "cursor")
        browser.workspace.param.watch(self._on_table, "node_table")

    @staticmethod
    def _data(frame):
        empty = np.zeros((1, 1), np.uint8)
        return {
            "image": [frame["image"] if frame["image"] is not None else empty],
            "code": [frame["code"] if frame["code"] is not None else empty],
            "dw": [frame["width"]], "dh": [frame["height"]],
        }

    @staticmethod
    def _annotation_data(frame):
        rgba = frame["annotation"]
        return {"rgba": [rgba if rgba is not None else np.zeros((1, 1), np.uint32)],
                "dw": [frame["width"]], "dh": [frame["height"]]}

    def _redraw_annotation(self, *_):
        b = self.browser
        shape = b.workspace.shape
        width, height = slices.physical_extent(shape, b.axis, b.workspace.spacing) \
            if shape else (1.0, 1.0)
        rgba = b.annotation()
        self.annotation_glyph.visible = rgba is not None
        self.annotation_source.data = self._annotation_data(
            {"annotation": rgba, "width": width, "height": height})

    def _set_drag_tool(self, *_):
        # A drag either paints (pointer set) or pans, never both.
        self.figure.toolbar.active_drag = None if self.browser.pointer else self.pan_tool

    def _set_palette(self, palette):
        palette = list(palette) or [PALETTE[0]]
        if palette != list(self.label_mapper.palette):
            # Bin i is [i - 0.5, i + 0.5): integer codes map exactly, no rounding.
            self.label_mapper.update(palette=palette, low=-0.5, high=len(palette) - 0.5)

    @staticmethod
    def _shape(frame):
        return frame["width"], frame["height"]

    def _axis_labels(self):
        rows, cols = slices.plane_axes(self.browser.axis)
        return f"{cols} (physical)", f"{rows} (physical)"

    def _title(self):
        b = self.browser
        ws = b.workspace
        n = ws.shape[slices.axis_number(b.axis)] if ws.shape else 0
        selected = "" if ws.selected is None else f" · selected **{ws.label_name(ws.selected)}**"
        return f"**{b.axis} = {b.index}** of {max(n - 1, 0)}{selected}"

    def _redraw(self, *events):
        frame = self.browser.frame()
        self.image_glyph.visible = frame["image"] is not None
        self.label_glyph.visible = frame["code"] is not None
        if frame["code"] is not None:
            self._set_palette(frame["palette"])
        self.source.data = self._data(frame)
        self.annotation_glyph.visible = frame["annotation"] is not None
        self.annotation_source.data = self._annotation_data(frame)
        changed = any(e.name in ("axis", "image", "labels", "overlay", "refresh") for e in events)
        if changed or self.browser.is_lazy(self.browser.overlay):
            self._update_hover()  # a lazy layer's codes are per plane
        if changed:
            self.figure.xaxis.axis_label, self.figure.yaxis.axis_label = self._axis_labels()
        self._update_spans()
        self.title.object = self._title()

    def _on_selected(self, event):
        b = self.browser
        if b.overlay != "nodes" or "nodes" not in b.workspace.labels:
            self.title.object = self._title()
        elif not b.is_lazy("nodes") and len(b.layer_ids("nodes")) <= MAX_CODED_LABELS:
            # Codes do not change with the selection: only the palette does.
            self._set_palette(b._encode(np.zeros((1, 1), np.uint8))[1])
            self.title.object = self._title()
        else:
            self._redraw(event)

    def _restyle(self, *_):
        self.image_mapper.palette = COLORMAPS[self.browser.cmap]
        self.label_glyph.glyph.global_alpha = self.browser.opacity

    def _on_table(self, *_):
        self._update_hover()

    def _on_cursor(self, event):
        axis = slices.axis_number(self.browser.axis)
        if event.old is None or event.old[axis] == event.new[axis]:
            # The slice itself did not move: only the cross-hair did.
            self._update_spans()

    def _update_hover(self):
        overlay = self.browser.overlay
        if overlay == "none" or overlay not in self.browser.workspace.labels:
            self.describe.args = {"texts": []}
        else:
            self.describe.args = {"texts": self.browser.hover_texts(overlay)}

    def _update_spans(self):
        ws = self.browser.workspace
        rows, cols = (slices.axis_number(a) for a in slices.plane_axes(self.browser.axis))
        self.spans[0].location = (ws.cursor[cols] + 0.5) * ws.spacing[cols]
        self.spans[1].location = (ws.cursor[rows] + 0.5) * ws.spacing[rows]

    def _on_tap(self, event):
        if self.browser.pointer is not None:
            self.browser.pointer("tap", event.x, event.y)
        else:
            self.browser.click(event.x, event.y)

    def _on_pan(self, event):
        if self.browser.pointer is None or event.x is None:
            return
        kind = {"panstart": "start", "pan": "drag", "panend": "end"}[event.event_name]
        self.browser.pointer(kind, event.x, event.y)

