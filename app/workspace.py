"""The state every view shares: volumes, spacing, the network, the selection.

One :class:`Workspace` per page. Views hold a reference to it and watch
its parameters; none of them talks to another directly, so linking the
slice, 3D, network and table views is "everyone watches ``selected``".

>>> import numpy as np
>>> nodes = np.zeros((4, 5, 6), np.uint8); nodes[1:4, 1:4, 1:4] = 7
>>> ws = Workspace(spacing=(2.0, 1.0, 1.0))
>>> ws.set_volumes(labels={"nodes": nodes})
>>> ws.select(7)
>>> ws.selected, ws.cursor
(7, (2, 2, 2))
"""

import numpy as np
import param

from engine import InvalidInputError

from .volume_source import is_lazy

#: Names of the label layers the views know how to colour.
LAYERS = ("nodes", "edges", "communities", "branches")


class Workspace(param.Parameterized):
    """Volumes, network and selection shared by all the views of a page.

    Parameters
    ----------
    image : ndarray (z, y, x) or None
        Intensity volume (any numeric dtype; may be a ``numpy.memmap``, a
        zarr array or a :class:`~app.volume_source.MultiscaleVolume`,
        which are kept lazy: only the planes shown are read).
    labels : dict of str to ndarray
        Label layers by name (``"nodes"``, ``"edges"``, ...), each the
        shape of the image (or of each other when there is no image);
        lazy volumes as for ``image``.
    spacing : tuple (dz, dy, dx)
        Physical voxel size.
    network : engine.network.Network or None
    branches : engine.skeleton.Branches or None
        Branches of the connecting objects (:meth:`set_branches`); their
        ids are the ``"branches"`` label layer.
    node_table : pandas.DataFrame or None
        One row per node: ``label``, ``name``, centroid ``z, y, x``
        (physical), ``volume``, ``degree``, centralities, ``community``.
    names : dict of int to str
        Display names of labels (the frog's tissue names, for instance).
    selected : int or None
        The selected node label; every view highlights it.
    cursor : tuple (z, y, x) of int
        The voxel the slice views pass through.
    """

    image = param.Parameter(default=None)
    labels = param.Dict(default={})
    spacing = param.NumericTuple(default=(1.0, 1.0, 1.0), length=3)
    network = param.Parameter(default=None)
    branches = param.Parameter(default=None)
    node_table = param.DataFrame(default=None, allow_None=True)
    names = param.Dict(default={})
    selected = param.Integer(default=None, allow_None=True)
    cursor = param.NumericTuple(default=(0, 0, 0), length=3)
    title = param.String(default="")

    @property
    def shape(self):
        """(z, y, x) shape of the volumes, or None when nothing is loaded."""
        if self.image is not None:
            return tuple(self.image.shape)
        for volume in self.labels.values():
            return tuple(volume.shape)
        return None

    def set_volumes(self, *, image=None, labels=None, spacing=None, names=None, title=None):
        """Replace the volumes (and the network and branches, which no longer fit).

        Raises
        ------
        InvalidInputError
            If a volume is not 3D or the shapes differ.
        """
        labels = dict(labels or {})
        # np.shape reads ``.shape``: a zarr volume is stored as given, never loaded.
        shapes = {}
        if image is not None:
            shapes["image"] = np.shape(image)
        for name, volume in labels.items():
            shapes[f"labels {name!r}"] = np.shape(volume)
        for what, shape in shapes.items():
            if len(shape) != 3:
                raise InvalidInputError(f"{what} must be a 3D (z, y, x) volume, got shape {shape}")
        if len(set(shapes.values())) > 1:
            described = ", ".join(f"{k} {v}" for k, v in shapes.items())
            raise InvalidInputError(f"volumes must all have the same shape; got {described}")
        with param.parameterized.batch_call_watchers(self):
            self.network = None
            self.branches = None
            self.node_table = None
            self.selected = None
            if spacing is not None:
                self.spacing = tuple(float(s) for s in spacing)
            if names is not None:
                self.names = dict(names)
            if title is not None:
                self.title = title
            self.image = image
            self.labels = labels
            shape = next(iter(shapes.values()), (0, 0, 0))
            self.cursor = tuple(max(int(n) // 2, 0) for n in shape)

    def set_network(self, network, *, community_method="louvain"):
        """Attach a network and its node table (degree, centralities, community).

        Adds the ``communities`` label layer when node labels are loaded.
        """
        table = network.node_table(community_method=community_method)
        table.insert(1, "name", [self.names.get(int(k), str(int(k))) for k in table["label"]])
        labels = dict(self.labels)
        if "nodes" in labels:
            from engine.network import community_overlay

            assignment = dict(zip(table["label"].astype(int), table["community"].astype(int)))
            labels["communities"] = community_overlay(labels["nodes"], assignment)
        if network.edge_labels is not None:
            labels["edges"] = network.edge_labels
        with param.parameterized.batch_call_watchers(self):
            self.selected = None
            self.network = network
            self.node_table = table
            self.labels = labels

    def set_branches(self, branches, branch_labels):
        """Attach the branches of the connecting objects and their label volume.

        ``branch_labels`` (from :func:`engine.skeleton.label_branches`)
        becomes the ``"branches"`` label layer; None for both removes it.

        Raises
        ------
        InvalidInputError
            If the label volume does not have the shape of the others.
        """
        labels = dict(self.labels)
        labels.pop("branches", None)
        if branch_labels is not None:
            shape = self.shape
            if shape is not None and tuple(np.shape(branch_labels)) != shape:
                raise InvalidInputError(
                    f"branch labels have shape {np.shape(branch_labels)}, the volumes {shape}")
            labels["branches"] = branch_labels
        with param.parameterized.batch_call_watchers(self):
            self.branches = branches
            self.labels = labels

    def voxel_of(self, zyx):
        """The voxel (z, y, x) at a physical point, clipped to the volume."""
        return self._clip(np.rint(np.asarray(zyx, float) / np.asarray(self.spacing)))

    def centroid_voxel(self, label):
        """Voxel (z, y, x) of a node's centroid, or None if it is unknown.

        Without a node table the centroid is computed from the labels,
        unless they are lazy (zarr): then None.
        """
        table = self.node_table
        if table is not None:
            row = table.loc[table["label"] == label]
            if len(row):
                phys = row[["z", "y", "x"]].to_numpy(float)[0]
                return self._clip(np.rint(phys / np.asarray(self.spacing)))
        nodes = self.labels.get("nodes")
        if nodes is None or is_lazy(nodes):
            return None  # a search of a volume on disk would read all of it
        where = np.argwhere(np.asarray(nodes) == label)
        if not len(where):
            return None
        return self._clip(np.rint(where.mean(axis=0)))

    def _clip(self, voxel):
        shape = self.shape or (1, 1, 1)
        return tuple(int(min(max(v, 0), n - 1)) for v, n in zip(voxel, shape))

    def select(self, label, *, voxel=None):
        """Select a node (or clear with None) and move the cursor to it.

        The cursor goes to ``voxel`` when given (a click in a slice keeps
        the slice where it is), else to the node's centroid.
        """
        if label is None or int(label) == 0:
            self.selected = None
            return
        label = int(label)
        voxel = self.centroid_voxel(label) if voxel is None else self._clip(voxel)
        with param.parameterized.batch_call_watchers(self):
            self.selected = label
            if voxel is not None:
                self.cursor = voxel

    def label_name(self, label):
        """Display name of a label: its name when known, else its id."""
        return self.names.get(int(label), str(int(label)))
