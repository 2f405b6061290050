"""Ground-truth vessel trees: tubes along known centrelines with known junctions.

A tree is a list of segments. Each segment is a centreline, sampled densely in
physical (z, y, x) units, with a constant radius; it starts at a node and ends
at a node. Nodes where three segments meet are junctions, nodes with one
segment are tips. The mask is the union of balls of the segment's radius along
its centreline (tubes with round caps), so a skeleton's tip lies one radius
beyond the centreline's end, on its tangent.

``straight_y`` and ``curved_tree`` are hand-made trees for accuracy tests;
``random_tree`` grows a random binary tree of curved, tapering tubes for the
benchmarks, rejecting children that would touch other tubes (so its junctions
are exactly the designed ones).
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree


@dataclass
class Segment:
    points: np.ndarray  # (N, 3) physical (z, y, x), dense centreline
    radius: float
    start: int  # node ids
    end: int

    @property
    def length(self):
        return float(np.linalg.norm(np.diff(self.points, axis=0), axis=1).sum())


@dataclass
class VesselTree:
    shape: tuple
    spacing: tuple
    nodes: dict = field(default_factory=dict)  # node id -> (3,) physical point
    segments: list = field(default_factory=list)

    def degree(self, node):
        return sum((s.start == node) + (s.end == node) for s in self.segments)

    @property
    def junctions(self):
        return {n: p for n, p in self.nodes.items() if self.degree(n) >= 3}

    @property
    def tips(self):
        return {n: p for n, p in self.nodes.items() if self.degree(n) == 1}

    def capped_centreline(self, k):
        """Segment ``k``'s centreline, extended by its radius at tips (the caps)."""
        seg = self.segments[k]
        pts = seg.points
        parts = [pts]
        if self.degree(seg.start) == 1:
            t = pts[0] - pts[1]
            parts.insert(0, [pts[0] + seg.radius * t / np.linalg.norm(t)])
        if self.degree(seg.end) == 1:
            t = pts[-1] - pts[-2]
            parts.append([pts[-1] + seg.radius * t / np.linalg.norm(t)])
        return np.concatenate([np.asarray(p, float) for p in parts])

    def mask(self):
        out = np.zeros(self.shape, bool)
        for seg in self.segments:
            z, y, x = tube_voxels(seg.points, seg.radius, self.spacing, self.shape)
            out[z, y, x] = True
        return out


def arc_position(curve, point):
    """Arc length along ``curve`` (polyline) of the projection of ``point``."""
    a, b = curve[:-1], curve[1:]
    d = b - a
    dd = np.maximum((d * d).sum(1), 1e-12)
    t = np.clip(((point - a) * d).sum(1) / dd, 0, 1)
    dist = np.linalg.norm(a + t[:, None] * d - point, axis=1)
    i = int(np.argmin(dist))
    cum = np.concatenate([[0.0], np.cumsum(np.sqrt(dd))])
    return float(cum[i] + t[i] * np.sqrt(dd[i])), float(dist[i])


def match_branches(tree, branches):
    """Per detected branch: (index of its true segment, relative length error).

    A branch is matched to the segment whose capped centreline passes nearest
    to both of its end points; its true length is the arc length along that
    centreline between the projections of its end points.
    """
    nodes = branches.nodes.set_index("node")[["z", "y", "x"]]
    out = []
    for row in branches.table.itertuples():
        pa, pb = nodes.loc[row.node_a].to_numpy(float), nodes.loc[row.node_b].to_numpy(float)
        fits = []
        for k in range(len(tree.segments)):
            c = tree.capped_centreline(k)
            (sa, da), (sb, db) = arc_position(c, pa), arc_position(c, pb)
            fits.append((da + db, k, abs(sb - sa)))
        _, k, true_length = min(fits)
        out.append((k, row.length / true_length - 1))
    return out


def tube_voxels(points, radius, spacing, shape):
    """Index arrays of voxels whose centres lie within ``radius`` of the polyline."""
    sp = np.asarray(spacing, float)
    step = 0.2 * sp.min()
    dense = _resample(points, step)
    lo = np.maximum(np.floor((dense.min(0) - radius) / sp).astype(int), 0)
    hi = np.minimum(np.ceil((dense.max(0) + radius) / sp).astype(int) + 1, shape)
    if np.any(hi <= lo):
        return (np.array([], int),) * 3
    grid = np.stack(np.meshgrid(*[np.arange(lo[i], hi[i]) for i in range(3)], indexing="ij"), -1)
    coords = grid.reshape(-1, 3)
    # the dense samples are step apart, so a voxel within radius of the polyline
    # is within radius + step/2 of a sample; the exact test is done on segments
    d, i = cKDTree(dense).query(coords * sp, distance_upper_bound=radius + step)
    near = np.isfinite(d)
    coords, i = coords[near], i[near]
    p = coords * sp
    best = np.full(len(p), np.inf)
    for shift in (-1, 0):
        j = np.clip(i + shift, 0, len(dense) - 2)
        a, b = dense[j], dense[j + 1]
        ab = b - a
        t = np.clip(((p - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0, 1)
        best = np.minimum(best, np.linalg.norm(a + t[:, None] * ab - p, axis=1))
    keep = best <= radius
    return tuple(coords[keep].T)


def _resample(points, step):
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(2, int(np.ceil(cum[-1] / step)) + 1)
    s = np.linspace(0, cum[-1], n)
    return np.stack([np.interp(s, cum, points[:, k]) for k in range(3)], 1)


def _line(a, b, n=200):
    t = np.linspace(0, 1, n)[:, None]
    return np.asarray(a, float) + t * (np.asarray(b, float) - np.asarray(a, float))


def _arc(a, b, bulge, n=400):
    """A circular-ish arc from a to b bowing by ``bulge`` (a vector) at its middle."""
    t = np.linspace(0, 1, n)[:, None]
    a, b = np.asarray(a, float), np.asarray(b, float)
    return a + t * (b - a) + np.sin(np.pi * t) * np.asarray(bulge, float)


def straight_y(spacing=(1.0, 1.0, 1.0), radius=3.0):
    """A trunk and two straight oblique children meeting at one junction.

    Physical extent about 100 x 100 x 100; no segment is parallel to an axis,
    so a voxel path along it is a staircase.
    """
    sp = np.asarray(spacing, float)
    shape = tuple(int(np.ceil(100 / s)) for s in sp)
    j = np.array([50.0, 48.0, 52.0])
    nodes = {0: np.array([12.0, 20.0, 15.0]), 1: j,
             2: np.array([88.0, 85.0, 70.0]), 3: np.array([80.0, 25.0, 88.0])}
    tree = VesselTree(shape, tuple(sp), nodes)
    for a, b in ((0, 1), (1, 2), (1, 3)):
        tree.segments.append(Segment(_line(nodes[a], nodes[b]), radius, a, b))
    return tree


def curved_tree(spacing=(1.0, 1.0, 1.0), radius=2.5):
    """Seven segments, three junctions: a straight trunk, two curved children,
    and four grandchildren (two straight, two curved)."""
    sp = np.asarray(spacing, float)
    shape = tuple(int(np.ceil(120 / s)) for s in sp)
    nodes = {0: [10.0, 60.0, 12.0], 1: [58.0, 58.0, 40.0],      # trunk
             2: [30.0, 100.0, 70.0], 3: [86.0, 22.0, 72.0],      # children ends
             4: [12.0, 105.0, 108.0], 5: [55.0, 108.0, 104.0],   # grandchildren of 2
             6: [108.0, 12.0, 100.0], 7: [95.0, 55.0, 108.0]}    # grandchildren of 3
    nodes = {k: np.asarray(v) for k, v in nodes.items()}
    tree = VesselTree(shape, tuple(sp), nodes)
    curves = [
        (0, 1, None), (1, 2, [-12.0, 4.0, 8.0]), (1, 3, [10.0, -6.0, 9.0]),
        (2, 4, None), (2, 5, [8.0, -6.0, -4.0]), (3, 6, [-7.0, -7.0, 5.0]), (3, 7, None),
    ]
    for a, b, bulge in curves:
        pts = _line(nodes[a], nodes[b]) if bulge is None else _arc(nodes[a], nodes[b], bulge)
        tree.segments.append(Segment(pts, radius, a, b))
    return tree


def random_tree(shape, spacing=(1.0, 1.0, 1.0), *, seed=0, roots=4, depth=6,
                radius=6.0, taper=0.8, min_radius=1.5):
    """A random forest of binary vessel trees filling ``shape``.

    Segments bow sideways by up to a quarter of their length; each child is
    rotated 25-50 degrees off its parent's direction and is ``taper`` times
    thinner. A child that would leave the volume or come within two voxels of
    another tube is retried, then dropped (its parent ends in a tip).
    """
    rng = np.random.default_rng(seed)
    sp = np.asarray(spacing, float)
    ext = np.asarray(shape) * sp
    tree = VesselTree(tuple(shape), tuple(sp))
    placed = []  # (dense samples, radius, segment index)

    def free(pts, r, parent):
        for other, r2, k in placed:
            if k == parent:
                continue
            d, _ = cKDTree(other).query(pts, distance_upper_bound=r + r2 + 2 * sp.max())
            if np.isfinite(d).any():
                return False
        return True

    def grow(start, direction, r, level, parent, node):
        if level >= depth or r < min_radius:
            return
        for _ in range(12):
            length = rng.uniform(8, 16) * r + 10 * sp.max()
            d = _rotate(direction, np.radians(rng.uniform(25, 50)), rng) if parent is not None \
                else direction
            end = start + d * length
            if np.any(end < r + 2 * sp) or np.any(end > ext - r - 2 * sp):
                continue
            side = np.cross(d, rng.normal(size=3))
            side *= rng.uniform(0, 0.25) * length / max(np.linalg.norm(side), 1e-9)
            pts = _arc(start, end, side, n=max(50, int(length / (0.5 * sp.min()))))
            # skip the first stretch inside the parent (it always touches it)
            check = pts[np.linalg.norm(pts - start, axis=1) > 2 * (r / taper) + 2 * sp.max()]
            if len(check) and not free(check, r, parent):
                continue
            k = len(tree.segments)
            tree.nodes[len(tree.nodes)] = end
            tree.segments.append(Segment(pts, r, node, len(tree.nodes) - 1))
            placed.append((_resample(pts, sp.min()), r, k))
            end_node = len(tree.nodes) - 1
            tangent = pts[-1] - pts[-2]
            tangent /= np.linalg.norm(tangent)
            grow(end, tangent, r * taper, level + 1, k, end_node)
            grow(end, tangent, r * taper, level + 1, k, end_node)
            return

    for _ in range(roots):
        for _ in range(50):
            start = rng.uniform(0.1, 0.9, 3) * ext
            if all(np.linalg.norm(start - p[0]) > 4 * radius for p, _, _ in placed):
                break
        tree.nodes[len(tree.nodes)] = start
        d = ext / 2 - start
        grow(start, d / np.linalg.norm(d), radius, 0, None, len(tree.nodes) - 1)
    return tree


def _rotate(v, angle, rng):
    axis = np.cross(v, rng.normal(size=3))
    axis /= np.linalg.norm(axis)
    return (v * np.cos(angle) + np.cross(axis, v) * np.sin(angle)
            + axis * (axis @ v) * (1 - np.cos(angle)))
