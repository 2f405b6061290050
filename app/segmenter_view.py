"""The segmentation page: controls on the left, the z slice on the right.

Thin by design: every widget is bound to a parameter or an action of
:class:`~app.segmenter.Segmenter`. The slice view is a
:class:`~app.slice_browser.SliceBrowser` over the segmenter's workspace
whose ``annotate`` hook draws the preview and the scribbles and whose
``pointer`` hook, set while a brush is on, sends drags to the segmenter.
"""

import panel as pn

from .explorer_view import _button, _guarded
from .segmenter import BRUSHES
from .slice_browser import SliceBrowser

SIDEBAR_WIDTH = 340


def _params(segmenter, names, **widgets):
    return pn.Param(segmenter.param, parameters=names, show_name=False,
                    sizing_mode="stretch_width", widgets=widgets)


def _shown_for(segmenter, *methods):
    return pn.bind(lambda method: method in methods, segmenter.param.method)


def _data_controls(seg):
    upload = pn.widgets.FileInput(accept=".tif,.tiff", sizing_mode="stretch_width")
    return pn.Column(
        "### Image",
        _button("Nuclei demo", _guarded(seg, "loading the demo", seg.load_demo)),
        pn.widgets.TextInput.from_param(seg.param.spacing_text, name="spacing dz, dy, dx"),
        pn.widgets.TextInput.from_param(seg.param.image_path, name="tif on the server"),
        _button("Load path", _guarded(seg, "reading the image", seg.load_path)),
        upload,
        _button("Load upload", _guarded(seg, "reading the upload", lambda: seg.load_upload(
            upload.value, upload.filename or "upload.tif"))),
        sizing_mode="stretch_width",
    )


def _method_controls(seg):
    physical = {"smooth": {"name": "smooth sigma (physical)"},
                "min_volume": {"name": "min volume (physical³, 0 = none)"},
                "max_volume": {"name": "max volume (physical³, 0 = none)"},
                "split": {"name": "split distance (physical, 0 = none)"}}
    threshold = pn.Column(
        _params(seg, ["threshold_method", "threshold", "per_slice", "smooth"],
                threshold_method={"type": pn.widgets.RadioButtonGroup}, **physical),
        visible=_shown_for(seg, "threshold"), sizing_mode="stretch_width")
    forest = pn.Column(
        pn.pane.Markdown("Paint foreground and background scribbles on the slice "
                         "(brush below), then train.", margin=(0, 10)),
        _button("Train classifier", _guarded(seg, "training the classifier", seg.train),
                button_type="success", css_classes=["plexus-train"]),
        _params(seg, ["probability"]),
        pn.Row(_button("Save classifier", _guarded(seg, "saving", seg.save_classifier)),
               _button("Load classifier", _guarded(seg, "loading", seg.load_classifier)),
               sizing_mode="stretch_width"),
        visible=_shown_for(seg, "random forest"), sizing_mode="stretch_width")
    cellpose = pn.Column(
        _params(seg, ["cellpose_model", "diameter", "cellprob_threshold", "flow_threshold",
                      "do_3D", "anisotropy", "flow3D_smooth", "stitch_threshold", "min_size"],
                diameter={"name": "diameter (px, 0 = model's)"},
                anisotropy={"name": "anisotropy (0 = dz / dy)"}),
        visible=_shown_for(seg, "cellpose"), sizing_mode="stretch_width")
    cleanup = pn.Column(
        _params(seg, ["fill", "min_volume", "max_volume", "split"], **physical),
        visible=_shown_for(seg, "threshold", "random forest"), sizing_mode="stretch_width")
    run = _button("Run on the whole volume", _guarded(seg, "segmenting", seg.run),
                  button_type="primary", css_classes=["plexus-run"])
    run.disabled = seg.runner.param.running
    return pn.Column(
        "### Method",
        pn.widgets.RadioButtonGroup.from_param(seg.param.method, sizing_mode="stretch_width"),
        threshold, forest, cellpose, cleanup,
        pn.widgets.Checkbox.from_param(seg.param.show_preview,
                                       name="preview the current plane"),
        run, seg.runner.panel(),
        sizing_mode="stretch_width",
    )


def _brush_controls(seg):
    return pn.Column(
        "### Brush",
        pn.widgets.Select.from_param(seg.param.brush, name="a drag on the slice paints",
                                     options=list(BRUSHES), css_classes=["plexus-brush"]),
        pn.widgets.FloatSlider.from_param(seg.param.brush_radius, name="radius (voxels)"),
        _button("Clear scribbles", _guarded(seg, "clearing", seg.clear_scribbles)),
        sizing_mode="stretch_width",
    )


def _output_controls(seg):
    link = pn.pane.HTML(
        pn.bind(lambda href: f'<a class="plexus-explorer-link" href="{href}" target="_blank">'
                             "Open the network explorer with these labels</a>" if href else "",
                seg.param.explorer_link), sizing_mode="stretch_width")
    training = pn.Column(
        pn.pane.Markdown("Train Cellpose on the labels shown (a run, corrected with the "
                         "object brushes):", margin=(0, 10)),
        _params(seg, ["train_epochs", "train_anisotropy"],
                train_anisotropy={"name": "anisotropy (0 = dz / dy)"}),
        _button("Train Cellpose", _guarded(seg, "training Cellpose", seg.train_cellpose)),
        sizing_mode="stretch_width")
    return pn.Column(
        "### Results",
        pn.widgets.TextInput.from_param(seg.param.out_dir, name="folder on the server"),
        _button("Save labels (tif)", _guarded(seg, "saving", seg.save_labels)),
        pn.Row(_button("Send as nodes", _guarded(seg, "sending",
                                                 lambda: seg.send_to_explorer("nodes"))),
               _button("Send as edges", _guarded(seg, "sending",
                                                 lambda: seg.send_to_explorer("edges"))),
               sizing_mode="stretch_width"),
        link, training,
        sizing_mode="stretch_width",
    )


def _wire(seg, browser):
    """Keep the slice view in step with the segmenter's overlays and brush."""
    seg.param.watch(lambda _: browser.refresh_annotation(), "overlay_version")
    seg.param.watch(lambda _: browser.refresh_labels(), "labels_edited")

    def set_pointer(*_):
        browser.pointer = seg.pointer if seg.brush_target() is not None else None

    seg.param.watch(set_pointer, "brush")
    set_pointer()

    def show_new_labels(event):
        # The browser starts without labels (overlay "none"): show the first ones.
        if "nodes" in event.new and "nodes" not in (event.old or {}):
            browser.overlay = "nodes"

    seg.workspace.param.watch(show_new_labels, "labels")


def segmenter_layout(seg):
    """Build the page for one browser session."""
    browser = SliceBrowser(workspace=seg.workspace, axis="z", annotate=seg.annotation)
    _wire(seg, browser)
    header = pn.pane.Markdown(
        pn.bind(lambda title, message: f"## Plexus segmentation\n{title}  \n*{message}*",
                seg.workspace.param.title, seg.param.message),
        sizing_mode="stretch_width", css_classes=["plexus-segmentation-header"])
    legend = pn.pane.Markdown(
        "Overlay: <span style='color:#ffdc00'>■</span> preview of this plane · "
        "<span style='color:#00e65a'>■</span> foreground scribbles · "
        "<span style='color:#e628c8'>■</span> background scribbles · objects in colours",
        margin=(0, 10))
    sidebar = pn.Column(_data_controls(seg), _method_controls(seg), _brush_controls(seg),
                        _output_controls(seg), width=SIDEBAR_WIDTH)
    views = pn.Column(header, legend, browser.panel(height=640), sizing_mode="stretch_width")
    return pn.Row(sidebar, views, sizing_mode="stretch_width")
