"""Pyvista scenes of label volumes and networks, in physical coordinates.

No Panel here: :mod:`app.view3d` shows these scenes in a browser, as a
static image or through a trame server. A volume is (z, y, x) with a
spacing (dz, dy, dx); pyvista works in (x, y, z), so voxel (k, j, i) is
drawn at ``(i * dx, j * dy, k * dz)``, the same physical point as the
node centroids of :class:`engine.network.Network`.

Every mesh carries an explicit per-triangle ``"rgb"`` array: vtk.js drops
colormaps (labels come out grey), and changing the selection only
rewrites these colours, so the scene is never rebuilt for it.

>>> import numpy as np
>>> labels = np.zeros((4, 6, 8), np.uint8)
>>> labels[1:3, 1:4, 2:6] = 5
>>> scene = build_scene(labels, spacing=(2.0, 1.0, 1.0), smoothing=False)
>>> tuple(float(b) for b in scene.surfaces.bounds)  # x, then y, then z
(1.5, 5.5, 0.5, 3.5, 1.0, 5.0)
>>> triangle_count(scene.plotter)  # 2 per voxel face: 2 * 2 * (4*3 + 4*2 + 3*2)
104
"""

import io
import math
from dataclasses import dataclass, field

import colorcet
import numpy as np
import pyvista as pv

from app.palette import SELECTED_COLOR, label_rgb
from engine import InvalidInputError

#: Dark background: the selection (white) and the glasbey hues stand out on it.
BACKGROUND = "#1e1f22"
#: Colour of the edge tubes when nothing about them is selected.
EDGE_COLOR = "#a0a4ab"
#: Colours of the skeleton by radius, thinnest to thickest.
RADIUS_PALETTE = colorcet.bmy
#: Share of its own colour an unselected object keeps while something is selected.
DIM_FACTOR = 0.35
#: The build cap: above it, label volumes are strided until their surfaces fit.
DEFAULT_MAX_TRIANGLES = 5_000_000
_SLAB = 32


def _hex_to_rgb(color):
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.uint8)


SELECTED_RGB = _hex_to_rgb(SELECTED_COLOR)
BACKGROUND_RGB = _hex_to_rgb(BACKGROUND)
EDGE_RGB = _hex_to_rgb(EDGE_COLOR)
_RADIUS_RGB = np.array([_hex_to_rgb(c) for c in RADIUS_PALETTE], np.uint8)


@dataclass(eq=False)
class Scene:
    """A plotter and the meshes in it, with what each triangle belongs to.

    Attributes
    ----------
    plotter : pyvista.Plotter
        Off-screen plotter holding the actors below; its camera is set.
    surfaces, nodes, edges : pyvista.PolyData or None
        Label surfaces, node spheres and edge tubes; each has a cell
        array ``"rgb"`` (uint8, shape (n_cells, 3)).
    surface_labels : ndarray, shape (n_cells, 2)
        Labels on either side of each surface triangle (0: background).
    node_labels : ndarray, shape (n_cells,)
        Node label of each sphere triangle.
    edge_nodes : ndarray, shape (n_cells, 2)
        The two node labels of the edge each tube triangle belongs to.
    skeleton : pyvista.PolyData or None
        Tubes along the branch centrelines, with ``"rgb"``.
    skeleton_lines : pyvista.PolyData or None
        The centrelines themselves: one polyline cell per branch, in the
        branch table's order, with the cell array ``"branch"`` (its id).
    skeleton_branches, skeleton_radii : ndarray, shape (n_cells,)
        Branch id and mean radius of the branch of each tube triangle.
    skeleton_color : {"branch", "radius"}
        What the tubes' colours show (see :func:`color_skeleton`).
    actors : dict of str to pyvista.Actor
        ``"surfaces"``, ``"nodes"``, ``"edges"``, ``"skeleton"`` (those that
        exist) in ``plotter``.
    opacity : float
        Opacity of the surfaces.
    network_visible : bool
        Whether the spheres and tubes are shown.
    skeleton_visible : bool
        Whether the skeleton tubes are shown.
    copies : list of (pyvista.Plotter, dict)
        Further plotters over the same meshes (see :func:`add_plotter`).
    step : int
        Stride the label volume was sampled with (1: full resolution).
    selected : int or None
        The highlighted node label.
    """

    plotter: pv.Plotter
    surfaces: pv.PolyData | None = None
    surface_labels: np.ndarray | None = None
    nodes: pv.PolyData | None = None
    node_labels: np.ndarray | None = None
    edges: pv.PolyData | None = None
    edge_nodes: np.ndarray | None = None
    skeleton: pv.PolyData | None = None
    skeleton_lines: pv.PolyData | None = None
    skeleton_branches: np.ndarray | None = None
    skeleton_radii: np.ndarray | None = None
    skeleton_color: str = "branch"
    actors: dict = field(default_factory=dict)
    step: int = 1
    selected: int | None = None
    opacity: float = 1.0
    network_visible: bool = True
    skeleton_visible: bool = True
    copies: list = field(default_factory=list)


def _check_volume(labels, spacing):
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise InvalidInputError(f"labels must be a 3D (z, y, x) volume, got shape {labels.shape}")
    if labels.dtype.kind not in "ui":
        raise InvalidInputError(f"labels must be an integer array, got dtype {labels.dtype}")
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 3 or min(spacing) <= 0:
        raise InvalidInputError(f"spacing must be three positive numbers (dz, dy, dx), got {spacing}")
    return labels, spacing


def estimate_triangles(labels, step=1):
    """Triangles the surfaces of ``labels`` will have, without building them.

    Surface nets put one quad (two triangles) on every voxel face between
    two different labels, or between a label and the outside, so this
    count is exact for :func:`label_surfaces`.

    >>> box = np.zeros((3, 3, 3), np.uint8); box[1, 1, 1] = 1
    >>> estimate_triangles(box)
    12
    """
    if not hasattr(labels, "shape"):
        labels = np.asarray(labels)
    volume = labels[::step, ::step, ::step]
    faces = 0
    previous = None
    # Slabs of planes keep the temporary masks small on big (memmapped) volumes.
    for start in range(0, volume.shape[0], _SLAB):
        slab = np.asarray(volume[start:start + _SLAB])
        for axis in (1, 2):
            planes = np.moveaxis(slab, axis, 0)
            faces += int(np.count_nonzero(planes[1:] != planes[:-1]))
            faces += int(np.count_nonzero(planes[0])) + int(np.count_nonzero(planes[-1]))
        faces += int(np.count_nonzero(slab[1:] != slab[:-1]))
        first = slab[0] if previous is None else slab[0] != previous
        faces += int(np.count_nonzero(first))
        previous = slab[-1]
    if previous is not None:
        faces += int(np.count_nonzero(previous))
    return 2 * faces


def fitting_step(labels, max_triangles):
    """Smallest stride whose surfaces have at most ``max_triangles`` triangles.

    Surface area falls roughly as the square of the stride, so the search
    starts from that guess and only counts a few strides.
    """
    if max_triangles is None:
        return 1
    if max_triangles < 1:
        raise InvalidInputError(f"max_triangles must be >= 1, was {max_triangles}")
    full = estimate_triangles(labels)
    step = max(1, math.floor(math.sqrt(full / max_triangles)))
    while step < max(np.shape(labels)) and estimate_triangles(labels, step) > max_triangles:
        step += 1
    return step


def label_surfaces(labels, spacing=(1.0, 1.0, 1.0), *, step=1, smoothing=True):
    """Triangle surfaces of every label, placed in physical coordinates.

    Parameters
    ----------
    labels : ndarray (z, y, x) of int
        Label volume; 0 is background.
    spacing : tuple (dz, dy, dx)
        Physical voxel size.
    step : int
        Take every ``step``-th voxel along each axis (coarser, fewer triangles).
    smoothing : bool
        Smooth the staircase surface (it then lies inside the voxels'
        outer faces, by less than a voxel, instead of on them).

    Returns
    -------
    pyvista.PolyData or None
        Triangles with the cell array ``"labels"`` (n, 2): the labels on
        either side (``[label, 0]`` towards the background, the two labels
        in increasing order between touching objects), and ``"rgb"``, the
        palette colour of the first. None when there is no label.

    Examples
    --------
    Anisotropic spacing: a voxel spans ``dz`` in pyvista's z.

    >>> labels = np.zeros((3, 3, 3), np.uint8); labels[1, 1, 1] = 9
    >>> mesh = label_surfaces(labels, spacing=(3.0, 1.0, 1.0), smoothing=False)
    >>> tuple(float(b) for b in mesh.bounds)
    (0.5, 1.5, 0.5, 1.5, 1.5, 4.5)
    """
    labels, spacing = _check_volume(labels, spacing)
    if int(step) < 1:
        raise InvalidInputError(f"step must be >= 1, was {step}")
    volume = np.ascontiguousarray(labels[::step, ::step, ::step])
    if not volume.any():
        return None
    original_ids = None
    if volume.max() > np.iinfo(np.int32).max:
        # vtkSurfaceNets3D takes label ids as C ints: contour dense ids,
        # then give the triangles their real (uint64) ids back.
        import fastremap

        volume, new_of_old = fastremap.renumber(volume, preserve_zero=True, in_place=False)
        original_ids = {new: old for old, new in new_of_old.items()}
    dz, dy, dx = (s * step for s in spacing)
    image = pv.ImageData(dimensions=volume.shape[::-1], spacing=(dx, dy, dz))
    # C order of a (z, y, x) array is VTK's point order: x varies fastest.
    image.point_data["labels"] = volume.ravel()
    mesh = image.contour_labels(
        boundary_style="all", scalars="labels", smoothing=smoothing,
        output_mesh_type="triangles", simplify_output=False,
    )
    sides = np.asarray(mesh.cell_data.pop("boundary_labels"))
    if original_ids is not None:
        sides = fastremap.remap(sides.astype(labels.dtype), original_ids)
    mesh.cell_data["labels"] = sides
    mesh.cell_data["rgb"] = label_rgb(sides[:, 0])
    return mesh


def network_meshes(nodes, edge_pairs=(), *, node_radius=1.0, edge_radius=None):
    """Spheres at node centroids and tubes between linked nodes.

    Parameters
    ----------
    nodes : pandas.DataFrame
        ``label`` and the physical centroid ``z, y, x`` of each node
        (``Network.nodes`` or a workspace's node table).
    edge_pairs : array-like of shape (m, 2)
        Linked node labels.
    node_radius, edge_radius : float
        Physical radii; edges default to a third of the node radius.

    Returns
    -------
    spheres, tubes : pyvista.PolyData or None
        Triangles with ``"rgb"``; spheres also carry ``"label"`` per
        triangle, tubes ``"nodes"`` (the two labels of their edge).

    >>> import pandas as pd
    >>> table = pd.DataFrame({"label": [3, 4], "z": [0, 0], "y": [0, 0], "x": [0, 10]})
    >>> spheres, tubes = network_meshes(table, [(3, 4)], node_radius=2)
    >>> [round(float(b)) for b in spheres.bounds[:2]], np.unique(tubes["nodes"]).tolist()
    ([-2, 12], [3, 4])
    """
    if len(nodes) == 0:
        return None, None
    missing = {"label", "z", "y", "x"} - set(nodes.columns)
    if missing:
        raise InvalidInputError(f"the node table lacks the columns {sorted(missing)}")
    labels = nodes["label"].to_numpy(np.uint64)  # ids may need all 64 bits
    xyz = nodes[["x", "y", "z"]].to_numpy(float)
    # Many nodes: coarser spheres keep the triangle count down.
    resolution = 12 if len(labels) < 2000 else 6
    sphere = pv.Sphere(radius=float(node_radius), theta_resolution=resolution, phi_resolution=resolution)
    spheres = pv.PolyData(xyz).glyph(geom=sphere, scale=False, orient=False)
    # The glyph filter writes one sphere per point, in point order.
    spheres.cell_data["label"] = np.repeat(labels, sphere.n_cells)
    spheres.cell_data["rgb"] = label_rgb(spheres.cell_data["label"])

    pairs = np.asarray(edge_pairs, dtype=np.uint64).reshape(-1, 2)
    row_of = {int(label): row for row, label in enumerate(labels)}
    pairs = pairs[[int(a) in row_of and int(b) in row_of and a != b for a, b in pairs]]
    if not len(pairs):
        return spheres, None
    ends = np.array([[row_of[int(a)], row_of[int(b)]] for a, b in pairs])
    lines = np.column_stack([np.full(len(ends), 2), ends]).ravel()
    skeleton = pv.PolyData(xyz, lines=lines)
    skeleton.cell_data["nodes"] = pairs
    radius = float(edge_radius) if edge_radius is not None else float(node_radius) / 3
    tubes = skeleton.tube(radius=radius, n_sides=8, capping=False).triangulate()
    tubes.cell_data["rgb"] = np.broadcast_to(EDGE_RGB, (tubes.n_cells, 3)).copy()
    return spheres, tubes


def skeleton_meshes(centrelines, branch_ids, *, radius=1.0):
    """Polylines along the branch centrelines, and tubes around them.

    Parameters
    ----------
    centrelines : list of ndarray, shape (k, 3)
        Physical (z, y, x) polylines (``Branches.centrelines``).
    branch_ids : array-like of int
        Id of each centreline's branch.
    radius : float
        Physical radius of the tubes.

    Returns
    -------
    lines : pyvista.PolyData or None
        One polyline cell per centreline, same order and points (in x, y,
        z), with the cell array ``"branch"``. None without centrelines.
    tubes : pyvista.PolyData or None
        Triangles around the lines with ``"branch"`` per triangle (lines
        shorter than a point spacing get none).

    >>> lines, tubes = skeleton_meshes([np.array([[0, 0, 0], [0, 0, 4.0], [0, 3, 4]])], [7])
    >>> lines.n_cells, lines.n_points, np.unique(tubes["branch"]).tolist()
    (1, 3, [7])
    """
    branch_ids = np.asarray(branch_ids, np.int64).reshape(-1)
    if len(centrelines) != len(branch_ids):
        raise InvalidInputError(
            f"{len(centrelines)} centrelines but {len(branch_ids)} branch ids")
    if not len(centrelines):
        return None, None
    lines = _polylines([np.asarray(c, float).reshape(-1, 3)[:, ::-1] for c in centrelines])
    lines.cell_data["branch"] = branch_ids
    # Repeated points make the tube filter drop or twist a line: tube a clean copy.
    clean = [_drop_repeats(np.asarray(c, float).reshape(-1, 3)[:, ::-1]) for c in centrelines]
    keep = [k for k, c in enumerate(clean) if len(c) >= 2]
    if not keep:
        return lines, None
    tube_input = _polylines([clean[k] for k in keep])
    tube_input.cell_data["branch"] = branch_ids[keep]
    tubes = tube_input.tube(radius=float(radius), n_sides=8, capping=False).triangulate()
    return lines, tubes


def _polylines(parts):
    points = np.concatenate(parts) if parts else np.zeros((0, 3))
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
    cells = np.concatenate([np.concatenate([[len(p)], np.arange(len(p)) + start])
                            for p, start in zip(parts, starts)]).astype(np.int64)
    return pv.PolyData(points, lines=cells)


def _drop_repeats(points):
    if len(points) < 2:
        return points
    step = np.linalg.norm(np.diff(points, axis=0), axis=1)
    return points[np.concatenate([[True], step > 1e-9])]


def skeleton_rgb(branch_ids, radii, by="branch", *, radius_range=None):
    """Colours of skeleton triangles: the branch's glasbey colour or its radius.

    ``"branch"`` colours a branch as the ``"branches"`` label layer colours
    it in the slices; ``"radius"`` maps the branch's mean radius to
    :data:`RADIUS_PALETTE`, thinnest to thickest (or over ``radius_range``).
    """
    if by == "branch":
        return label_rgb(np.asarray(branch_ids, np.uint64))
    if by != "radius":
        raise InvalidInputError(f"skeleton colours are by 'branch' or 'radius', got {by!r}")
    radii = np.asarray(radii, float)
    if radius_range is None:
        radius_range = (radii.min(), radii.max()) if len(radii) else (0.0, 1.0)
    low, high = radius_range
    scaled = (radii - low) / (high - low) if high > low else np.zeros_like(radii)
    index = np.rint(np.clip(scaled, 0, 1) * (len(RADIUS_PALETTE) - 1)).astype(int)
    return _RADIUS_RGB[index]


def build_scene(
    labels=None, spacing=(1.0, 1.0, 1.0), *, network=None, skeleton=None, step=None,
    max_triangles=DEFAULT_MAX_TRIANGLES, smoothing=True, opacity=1.0,
    node_radius=None, skeleton_color="branch", window_size=(800, 600),
):
    """An off-screen plotter with label surfaces and a network, camera set.

    Parameters
    ----------
    labels : ndarray (z, y, x) of int or None
        Label volume to draw as surfaces.
    spacing : tuple (dz, dy, dx)
        Physical voxel size.
    network : engine.network.Network, pandas.DataFrame or None
        A network (spheres at its node centroids, tubes along its edges)
        or a node table with ``label, z, y, x`` (spheres only).
    skeleton : engine.skeleton.Branches or None
        Branches whose ``centrelines`` are drawn as tubes (ids and mean
        radii from its ``table``).
    step : int or None
        Stride through the volume; None picks the smallest one whose
        surfaces fit ``max_triangles`` (None: no cap).
    smoothing : bool
        Smooth the surfaces (see :func:`label_surfaces`).
    opacity : float
        Opacity of the surfaces (0..1); lower it to see the network inside.
    node_radius : float or None
        Physical sphere radius; None: 0.6 % of the scene's diagonal. The
        skeleton's tubes are half as thick, or half the median branch
        radius where that is more.
    skeleton_color : {"branch", "radius"}
        Colour the skeleton by branch id or by mean radius.
    window_size : tuple (width, height)
        Pixels of screenshots and of server-side renderings.

    Returns
    -------
    Scene
    """
    plotter = _new_plotter(window_size)
    scene = Scene(plotter=plotter, opacity=float(opacity))
    if labels is not None:
        labels, spacing = _check_volume(labels, spacing)
        scene.step = int(step) if step is not None else fitting_step(labels, max_triangles)
        mesh = label_surfaces(labels, spacing, step=scene.step, smoothing=smoothing)
        if mesh is not None:
            # Label ids stay on the Python side: shipping them to vtk.js costs bytes.
            scene.surface_labels = np.asarray(mesh.cell_data.pop("labels"))
            scene.surfaces = mesh
    nodes, pairs = _network_parts(network)
    if node_radius is None and ((nodes is not None and len(nodes)) or skeleton is not None):
        node_radius = 0.006 * _diagonal(scene.surfaces, nodes, labels, spacing, skeleton)
    if nodes is not None and len(nodes):
        spheres, tubes = network_meshes(nodes, pairs, node_radius=node_radius)
        scene.nodes, scene.node_labels = spheres, np.asarray(spheres.cell_data.pop("label"))
        if tubes is not None:
            scene.edges, scene.edge_nodes = tubes, np.asarray(tubes.cell_data.pop("nodes"))
    if skeleton is not None and len(skeleton.centrelines):
        table = skeleton.table
        # Half a node sphere, or half the typical branch radius when that is thicker.
        radius = max(0.5 * node_radius, 0.5 * float(np.median(table["mean_radius"])))
        lines, tubes = skeleton_meshes(skeleton.centrelines, table["branch_id"], radius=radius)
        scene.skeleton_lines = lines
        if tubes is not None:
            radius_of = dict(zip(table["branch_id"].astype(int), table["mean_radius"].astype(float)))
            scene.skeleton = tubes
            scene.skeleton_branches = np.asarray(tubes.cell_data.pop("branch"))
            scene.skeleton_radii = np.array([radius_of[int(b)] for b in scene.skeleton_branches])
            color_skeleton(scene, skeleton_color)
    scene.actors = _add_meshes(scene, plotter)
    plotter.view_isometric()
    # An off-screen plotter never renders on its own, so its camera would
    # stay unset and a pn.pane.VTK of it would come out blank.
    plotter.reset_camera()
    return scene


def add_plotter(scene, *, window_size=None):
    """Another off-screen plotter over the scene's meshes, same camera.

    An OpenGL context belongs to the thread that last rendered with it, so
    a plotter rendered from another thread (a trame server's) needs its own
    render window. The meshes are shared: :func:`highlight` reaches both,
    and :func:`set_opacity` and :func:`set_network_visible` update every copy.
    """
    plotter = _new_plotter(window_size or scene.plotter.window_size)
    actors = _add_meshes(scene, plotter)
    plotter.camera_position = scene.plotter.camera_position
    scene.copies.append((plotter, actors))
    return plotter


def remove_plotter(scene, plotter):
    """Forget and close a plotter made by :func:`add_plotter`."""
    scene.copies = [(p, a) for p, a in scene.copies if p is not plotter]
    plotter.close()


def _new_plotter(window_size):
    plotter = pv.Plotter(off_screen=True, window_size=list(window_size))
    plotter.set_background(BACKGROUND)
    return plotter


def _add_meshes(scene, plotter):
    actors = {}
    if scene.surfaces is not None:
        actors["surfaces"] = _add_colored(plotter, scene.surfaces, opacity=scene.opacity)
    for name in ("nodes", "edges"):
        mesh = getattr(scene, name)
        if mesh is not None:
            actors[name] = _add_colored(plotter, mesh)
            actors[name].visibility = scene.network_visible
    if scene.skeleton is not None:
        actors["skeleton"] = _add_colored(plotter, scene.skeleton)
        actors["skeleton"].visibility = scene.skeleton_visible
    return actors


def _network_parts(network):
    if network is None:
        return None, None
    if hasattr(network, "nodes") and hasattr(network, "edges"):
        pairs = network.edges[["node_a", "node_b"]].drop_duplicates().to_numpy()
        return network.nodes, pairs
    return network, ()


def _diagonal(surfaces, nodes, labels, spacing, skeleton=None):
    if surfaces is not None:
        bounds = np.asarray(surfaces.bounds).reshape(3, 2)
        return float(np.linalg.norm(bounds[:, 1] - bounds[:, 0])) or 1.0
    if labels is not None:
        return float(np.linalg.norm(np.multiply(np.shape(labels), spacing)))
    if nodes is None or not len(nodes):
        points = np.concatenate([np.zeros((1, 3)), *skeleton.centrelines])
        return float(np.linalg.norm(np.ptp(points, axis=0))) or 1.0
    spread = np.ptp(nodes[["x", "y", "z"]].to_numpy(float), axis=0)
    return float(np.linalg.norm(spread)) or 1.0


def _add_colored(plotter, mesh, opacity=1.0):
    return plotter.add_mesh(
        mesh, scalars="rgb", rgb=True, preference="cell", opacity=float(opacity),
        show_scalar_bar=False, reset_camera=False,
    )


def _dim(rgb):
    blended = rgb * DIM_FACTOR + BACKGROUND_RGB * (1 - DIM_FACTOR)
    return blended.astype(np.uint8)


def _write_rgb(mesh, rgb):
    # A new array rather than an in-place write: Panel's vtk.js serialiser
    # caches arrays by object and fails on a cached array whose MTime changed.
    mesh.cell_data["rgb"] = np.ascontiguousarray(rgb, dtype=np.uint8)
    mesh.cell_data.active_scalars_name = "rgb"


def highlight(scene, label, *, surfaces=True):
    """Draw node ``label`` white and dim everything else (None: plain colours).

    Only colours change; refresh the display afterwards (``pane.synchronize()``,
    a new screenshot, or a trame view update).

    Parameters
    ----------
    scene : Scene
    label : int or None
    surfaces : bool
        Highlight the surface of ``label`` too; False when the surfaces
        are another layer (edges, communities) whose ids are not node ids.
    """
    label = None if label is None else int(label)
    scene.selected = label
    if scene.surfaces is not None:
        sides = scene.surface_labels
        rgb = label_rgb(sides[:, 0])
        if label is not None:
            rgb = _dim(rgb)
            if surfaces:
                rgb[(sides == label).any(axis=1)] = SELECTED_RGB
        _write_rgb(scene.surfaces, rgb)
    if scene.nodes is not None:
        rgb = label_rgb(scene.node_labels)
        if label is not None:
            rgb = _dim(rgb)
            rgb[scene.node_labels == label] = SELECTED_RGB
        _write_rgb(scene.nodes, rgb)
    if scene.edges is not None:
        rgb = np.broadcast_to(EDGE_RGB, (scene.edges.n_cells, 3)).copy()
        if label is not None:
            rgb = _dim(rgb)
            rgb[(scene.edge_nodes == label).any(axis=1)] = SELECTED_RGB
        _write_rgb(scene.edges, rgb)


def _actor_sets(scene):
    return [scene.actors, *(actors for _, actors in scene.copies)]


def set_opacity(scene, opacity):
    """Opacity of the label surfaces (0..1), in every plotter of the scene."""
    if not 0 <= float(opacity) <= 1:
        raise InvalidInputError(f"opacity must be between 0 and 1, was {opacity}")
    scene.opacity = float(opacity)
    for actors in _actor_sets(scene):
        if "surfaces" in actors:
            actors["surfaces"].prop.opacity = scene.opacity


def set_network_visible(scene, visible):
    """Show or hide the node spheres and edge tubes, in every plotter of the scene."""
    scene.network_visible = bool(visible)
    for actors in _actor_sets(scene):
        for name in ("nodes", "edges"):
            if name in actors:
                actors[name].visibility = scene.network_visible


def set_skeleton_visible(scene, visible):
    """Show or hide the skeleton tubes, in every plotter of the scene."""
    scene.skeleton_visible = bool(visible)
    for actors in _actor_sets(scene):
        if "skeleton" in actors:
            actors["skeleton"].visibility = scene.skeleton_visible


def color_skeleton(scene, by):
    """Colour the skeleton tubes by ``"branch"`` id or by mean ``"radius"``.

    Only colours change (see :func:`skeleton_rgb`); refresh the display
    afterwards, as after :func:`highlight`.
    """
    if by not in ("branch", "radius"):
        raise InvalidInputError(f"skeleton colours are by 'branch' or 'radius', got {by!r}")
    scene.skeleton_color = by
    if scene.skeleton is not None:
        _write_rgb(scene.skeleton, skeleton_rgb(scene.skeleton_branches, scene.skeleton_radii, by))


def triangle_count(plotter, *, visible_only=True):
    """Triangles in the plotter's meshes (quads and strips counted as triangles)."""
    total = 0
    for actor in plotter.actors.values():
        mapper = getattr(actor, "mapper", None)
        if mapper is None or (visible_only and not actor.GetVisibility()):
            continue
        mesh = mapper.dataset
        if isinstance(mesh, pv.PolyData) and mesh.n_cells:
            total += mesh.n_cells if mesh.is_all_triangles else mesh.triangulate().n_cells
    return total


def screenshot(plotter, *, window_size=None):
    """Render off screen: an (height, width, 3) uint8 image.

    VTK picks the display, EGL or OSMesa at run time, so this works on a
    headless server with EGL. The OpenGL context is released afterwards:
    a context left current here would make another thread's render of
    this plotter return garbage.
    """
    try:
        return plotter.screenshot(return_img=True, window_size=window_size)
    finally:
        release_context(plotter)


def release_context(plotter):
    """Let another thread render with this plotter next."""
    ren_win = plotter.ren_win
    if ren_win is not None and hasattr(ren_win, "ReleaseCurrent"):
        ren_win.ReleaseCurrent()


def screenshot_png(plotter, *, window_size=None):
    """Render off screen and encode as PNG bytes (the static fallback)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(screenshot(plotter, window_size=window_size)).save(buffer, format="PNG")
    return buffer.getvalue()
