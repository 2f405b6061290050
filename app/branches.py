"""Branches of the connecting objects: skeleton, branch labels, branchpoint network.

:class:`BranchAnalysis` is the view-model of the explorer's "Branches"
control. Its action :meth:`~BranchAnalysis.analyze` runs
:func:`analyze_branches` (skeletonise, measure the branches, paint their
ids back into the volume) through the page's :class:`~app.runner.Runner`,
then hands the result to the :class:`~app.workspace.Workspace`, where every
view picks it up: the ``"branches"`` label layer for the slices, the
centrelines for the 3D view, the branchpoint network and the branch table.

>>> import numpy as np
>>> from app.runner import Runner
>>> from app.workspace import Workspace
>>> mask = np.zeros((9, 12, 40), np.uint8); mask[3:6, 4:8, 2:38] = 1
>>> ws = Workspace(); ws.set_volumes(labels={"nodes": np.zeros_like(mask)})
>>> analysis = BranchAnalysis(workspace=ws, runner=Runner(), volume=lambda: mask)
>>> analysis.analyze(); analysis.runner.wait()
>>> len(ws.branches.table), int(ws.labels["branches"].max())
(1, 1)
"""

import param

from engine import InvalidInputError

from .runner import Runner
from .workspace import Workspace

#: Choices of the label toggle: the slices show the objects' own labels or the branch ids.
OVERLAYS = ("object labels", "branch labels")


def analyze_branches(volume, *, spacing, prune=0.0, progress=None):
    """Skeletonise ``volume`` and measure and label its branches.

    Parameters
    ----------
    volume : (Z, Y, X) ndarray
        Binary mask or label volume of the connecting objects.
    spacing : (dz, dy, dx)
        Physical voxel size.
    prune : float
        Remove spurs (junction-to-end branches) shorter than this physical length.
    progress : callable, optional
        ``progress(done, total)`` after each of the three steps (the
        :class:`~app.runner.Runner` cancels there).

    Returns
    -------
    branches : engine.skeleton.Branches
    branch_labels : (Z, Y, X) uint32 ndarray
        Branch ids, 0 on the background.
    """
    from engine import skeleton

    def report(done):
        if progress is not None:
            progress(done, 3)

    report(0)
    graph = skeleton.skeletonize(volume, spacing, prune=prune)
    report(1)
    branches = skeleton.Branches(graph)
    report(2)
    labels = skeleton.label_branches(volume, branches)
    report(3)
    return branches, labels


class BranchAnalysis(param.Parameterized):
    """State and actions of the branch analysis of one page.

    Parameters
    ----------
    workspace : Workspace
        Receives the result (:meth:`Workspace.set_branches`).
    runner : Runner
        Runs the analysis in the background (progress, cancel, errors).
    volume : callable
        Returns the connecting objects to skeletonise (mask or labels, the
        shape of the workspace's volumes), or None when there are none.
    prune : float
        Remove spurs shorter than this physical length.
    overlay : {"object labels", "branch labels"}
        What the linked slice views (:meth:`link`) draw over the image.
    message : str
        Summary of the last analysis, for the page.
    """

    workspace = param.ClassSelector(class_=Workspace)
    runner = param.ClassSelector(class_=Runner)
    volume = param.Callable(default=None, allow_None=True)
    prune = param.Number(default=0.0, bounds=(0, None), softbounds=(0, 50),
                         doc="remove spurs shorter than this (physical)")
    overlay = param.Selector(objects=list(OVERLAYS), default=OVERLAYS[0])
    message = param.String(default="")

    def __init__(self, **params):
        super().__init__(**params)
        if self.runner is None:
            self.runner = Runner()
        self._browsers = []  # (slice browser, overlay it showed before the branch labels)
        self.workspace.param.watch(self._on_branches, "branches")

    def analyze(self):
        """Skeletonise the connecting objects in the background.

        Raises
        ------
        InvalidInputError
            If there are no connecting objects (load an edges tif or the demo).
        """
        volume = self.volume() if self.volume is not None else None
        if volume is None:
            raise InvalidInputError(
                "branches are measured on the connecting objects: load an edges tif "
                "(or the demo) first")
        if self.workspace.shape is not None and tuple(volume.shape) != self.workspace.shape:
            raise InvalidInputError(
                f"the connecting objects have shape {tuple(volume.shape)}, the workspace "
                f"{self.workspace.shape}")
        spacing = tuple(self.workspace.spacing)
        self.runner.run("measuring the branches", analyze_branches, volume, spacing=spacing,
                        prune=self.prune, on_done=lambda result: self._done(volume, result))

    def _done(self, volume, result):
        current = self.volume() if self.volume is not None else None
        if current is not volume:
            self.message = "Other volumes were loaded meanwhile: measure the branches again."
            return
        branches, labels = result
        self.workspace.set_branches(branches, labels)
        table = branches.table
        n_junctions = int((branches.nodes["kind"] == "junction").sum())
        self.message = (f"{len(table)} branches, {n_junctions} junction"
                        f"{'' if n_junctions == 1 else 's'}, cable length "
                        f"{table['length'].sum():.4g}.")
        if len(table):
            self.overlay = "branch labels"
            self._apply_overlay()  # also when it already was: the layer is new

    def _on_branches(self, event):
        if event.new is None:
            self.message = ""
            self.overlay = "object labels"

    # -- the slice views follow the toggle -------------------------------------
    def link(self, *browsers):
        """Keep the overlays of slice browsers in step with :attr:`overlay`.

        "branch labels" draws the ``"branches"`` layer (once there is one);
        "object labels" gives each browser back the layer it showed before.
        """
        for browser in browsers:
            self._browsers.append([browser, browser.overlay])
        self._apply_overlay()

    @param.depends("overlay", watch=True)
    def _apply_overlay(self):
        has_branches = "branches" in self.workspace.labels
        for entry in self._browsers:
            browser, before = entry
            if self.overlay == "branch labels" and has_branches:
                if browser.overlay != "branches":
                    entry[1] = browser.overlay
                browser.overlay = "branches"
            elif self.overlay == "object labels" and browser.overlay == "branches":
                choices = browser.param.overlay.objects
                browser.overlay = before if before in choices and before != "branches" \
                    else next((c for c in choices if c not in ("none", "branches")), "none")
