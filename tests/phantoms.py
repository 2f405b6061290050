"""Ground-truth phantoms for networks through connecting objects.

Nodes are balls, vessels are tubes (capsules) joining points inside two balls,
or Y's (three arms from a junction to three balls). The geometry is chosen so
that the network built with the stored ``search`` radius is known exactly:

* every tube stays more than ``search + 2*h`` (h = max spacing, physical
  units) from the surface of every ball it does not end at, so it never enters
  a third node's search region, not even after a one-voxel dilation;
* tubes keep a centre-line distance above ``2*r + 4.2*h`` from each other
  (outside the search regions of shared end nodes), so even NetTracer3D's
  3x3x3 dilation of both pieces followed by 6-connected labelling keeps them
  apart (the worst voxel offset that still merges is (3, 2, 2): sqrt(17) h);
* a Y's junction lies outside every search region, so its outer piece is one
  object touching three regions: its truth is all three pairs.

``beside_fraction`` of the straight tubes pass a third ball at a surface gap in
(search + 2h, search + 4h): a false edge there means the search region or the
splitting is wrong. Node pairs may be close enough for their search regions to
meet (surface gap >= ``min_gap``), which exercises the "crossing straight from
one region into the next" rule.

The default search radius is ``3*h``. In 2D (shape (1, Y, X)) h is the
in-plane maximum. The vessel radius is raised to just over half the voxel
diagonal when smaller, so a tube's voxels always form a 26-connected chain.
"""

from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import cKDTree

SEP_VOXELS = 4.2  # tube-to-tube clearance (beyond 2 radii), in units of h
_EPS = 0.05  # safety margin, in units of h


@dataclass
class Phantom:
    nodes: np.ndarray
    edges: np.ndarray
    spacing: tuple
    true_edges: set
    search: float
    labels: np.ndarray = None  # node labels, in the order of centers
    centers: np.ndarray = None  # (N, 3) physical (z, y, x)
    radii: np.ndarray = None  # (N,) physical
    vessel_radius: float = None  # effective (physical)
    vessels: list = field(default_factory=list)  # dicts: kind, nodes, segments, beside

    def edge_table(self):
        """One row per (vessel, node pair): ``[(a, b, vessel_index, kind)]``."""
        rows = []
        for k, v in enumerate(self.vessels):
            labs = sorted(v["nodes"])
            for i in range(len(labs)):
                for j in range(i + 1, len(labs)):
                    rows.append((labs[i], labs[j], k, v["kind"]))
        return rows

    def vessel_mask(self, k):
        """Boolean volume of vessel ``k`` alone."""
        out = np.zeros(self.edges.shape, bool)
        for p0, p1 in self.vessels[k]["segments"]:
            idx = capsule_voxels(p0, p1, self.vessel_radius, self.spacing, out.shape)
            out[idx] = True
        return out


# --------------------------------------------------------------- geometry
def _seg_points_dist(p0, p1, pts):
    """Distance from segment p0-p1 to each row of ``pts``."""
    d = p1 - p0
    dd = float(d @ d)
    t = np.clip(((pts - p0) @ d) / dd, 0.0, 1.0) if dd > 0 else np.zeros(len(pts))
    return np.linalg.norm(pts - (p0 + t[:, None] * d), axis=1)


def _seg_segs_dist(p0, p1, q0, q1):
    """Distance from segment p0-p1 to each segment q0[i]-q1[i] (Ericson 5.1.9)."""
    d1, d2, r = p1 - p0, q1 - q0, p0 - q0
    a = float(d1 @ d1)
    e = np.einsum("ij,ij->i", d2, d2)
    f = np.einsum("ij,ij->i", d2, r)
    c = r @ d1
    b = d2 @ d1
    denom = a * e - b * b
    e_safe = np.where(e > 1e-12, e, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.where(denom > 1e-12, np.clip((b * f - c * e) / denom, 0, 1), 0.0)
        t = np.where(e > 1e-12, (b * s + f) / e_safe, 0.0)
    lo, hi = t < 0, t > 1
    s = np.where(lo, np.clip(-c / a, 0, 1), s)
    s = np.where(hi, np.clip((b - c) / a, 0, 1), s)
    t = np.clip(t, 0, 1)
    diff = (p0 + s[:, None] * d1) - (q0 + t[:, None] * d2)
    return np.linalg.norm(diff, axis=1)


def _exit_param(p0, p1, c, rho):
    """Largest t in [0, 1] with |p0 + t (p1 - p0) - c| <= rho (0 if p0 is outside)."""
    d, w = p1 - p0, p0 - c
    a, b, cc = d @ d, 2 * (w @ d), w @ w - rho * rho
    if cc >= 0:
        return 0.0
    return float(min(1.0, (-b + np.sqrt(b * b - 4 * a * cc)) / (2 * a)))


def capsule_voxels(p0, p1, radius, spacing, shape, chunk=8.0):
    """Index arrays of voxels whose centres lie within ``radius`` of segment p0-p1."""
    sp = np.asarray(spacing, float)
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    n = max(1, int(np.ceil(np.linalg.norm(p1 - p0) / (chunk * sp.max()))))
    out = []
    for k in range(n):
        a, b = p0 + (p1 - p0) * (k / n), p0 + (p1 - p0) * ((k + 1) / n)
        lo = np.maximum(np.floor((np.minimum(a, b) - radius) / sp).astype(int), 0)
        hi = np.minimum(np.ceil((np.maximum(a, b) + radius) / sp).astype(int) + 1, shape)
        if np.any(hi <= lo):
            continue
        g = [np.arange(lo[i], hi[i]) * sp[i] for i in range(3)]
        d = b - a
        dd = float(d @ d)
        rel = [g[0][:, None, None] - a[0], g[1][None, :, None] - a[1], g[2][None, None, :] - a[2]]
        t = (rel[0] * d[0] + rel[1] * d[1] + rel[2] * d[2]) / dd if dd > 0 else 0.0
        t = np.clip(t, 0.0, 1.0)
        dist2 = sum((rel[i] - t * d[i]) ** 2 for i in range(3))
        z, y, x = np.nonzero(dist2 <= radius * radius)
        out.append((z + lo[0], y + lo[1], x + lo[2]))
    if not out:
        return (np.array([], int),) * 3
    return tuple(np.concatenate([o[i] for o in out]) for i in range(3))


def _ball_voxels(c, radius, spacing, shape):
    return capsule_voxels(c, c, radius, spacing, shape)


# --------------------------------------------------------------- generator
def _node_labels(n, label_ids, rng, dtype):
    if label_ids == "dense":
        labels = np.arange(1, n + 1, dtype=np.uint64)
    elif label_ids == "sparse":
        labels = np.unique(rng.integers(1, 2**40, size=2 * n + 16, dtype=np.uint64))
        labels = rng.permutation(labels)[:n]
    else:
        raise ValueError("label_ids must be 'dense' or 'sparse'")
    if dtype is None:
        top = int(labels.max()) if n else 1
        dtype = next(t for t in (np.uint8, np.uint16, np.uint32, np.uint64) if top <= np.iinfo(t).max)
    return labels.astype(dtype), np.dtype(dtype)


def _place_nodes(shape, sp, n, rad_range, min_gap, rng, is2d, max_tries=200000):
    ext = (np.array(shape) - 1) * sp
    centers, radii = np.empty((n, 3)), np.empty(n)
    k, tries = 0, 0
    batch = 4096
    while k < n:
        if tries > max_tries:
            raise RuntimeError(f"placed only {k} of {n} nodes: volume too crowded")
        rad = rng.uniform(*rad_range, size=batch)
        margin = rad[:, None] + sp.max()
        cand = margin + rng.random((batch, 3)) * np.maximum(ext - 2 * margin, 0)
        if is2d:
            cand[:, 0] = 0.0
        for c, rr in zip(cand, rad):
            tries += 1
            if k and np.any(np.linalg.norm(centers[:k] - c, axis=1) < rr + radii[:k] + min_gap):
                continue
            centers[k], radii[k] = c, rr
            k += 1
            if k == n:
                break
    return centers, radii


class _Builder:
    """Accepts vessels one by one, checking every clearance rule."""

    def __init__(self, centers, radii, r, search, h, rng, is2d):
        self.c, self.R, self.r, self.search, self.h, self.rng = centers, radii, r, search, h, rng
        self.is2d = is2d
        self.tree = cKDTree(centers)
        self.clear = search + 2 * h + _EPS * h  # min surface gap tube -> foreign ball
        self.sep = 2 * r + (SEP_VOXELS + _EPS) * h  # min centre-line distance between tubes
        self.clip = np.maximum(radii + search - 3 * h - r, 0.0)  # shared-node clip radius
        self.q0, self.q1 = [], []  # clipped segments of accepted vessels
        self.vessels = []
        self.pairs = set()

    def endpoint(self, i):
        """A random point within half the radius of ball i."""
        v = self.rng.normal(size=3)
        if self.is2d:
            v[0] = 0
        v *= self.rng.random() ** (1 / 3) * 0.5 * self.R[i] / max(np.linalg.norm(v), 1e-9)
        return self.c[i] + v

    def gaps(self, p0, p1, exclude):
        """Surface gaps from the tube p0-p1 to nearby balls not in ``exclude``."""
        mid, half = (p0 + p1) / 2, np.linalg.norm(p1 - p0) / 2
        near = self.tree.query_ball_point(mid, half + self.R.max() + self.r + self.search + 6 * self.h)
        near = np.array([j for j in near if j not in exclude], int)
        if near.size == 0:
            return near, np.array([])
        return near, _seg_points_dist(p0, p1, self.c[near]) - self.r - self.R[near]

    def clipped(self, p0, p1, i0, i1):
        t0 = _exit_param(p0, p1, self.c[i0], self.clip[i0]) if i0 is not None else 0.0
        t1 = 1.0 - _exit_param(p1, p0, self.c[i1], self.clip[i1]) if i1 is not None else 1.0
        if t1 <= t0:
            return None
        d = p1 - p0
        return p0 + t0 * d, p0 + t1 * d

    def separated(self, segs):
        if not self.q0:
            return True
        q0, q1 = np.asarray(self.q0), np.asarray(self.q1)
        return all(np.all(_seg_segs_dist(a, b, q0, q1) > self.sep) for a, b in segs)

    def add(self, kind, idx, segments, clipped, beside=None):
        self.vessels.append(dict(kind=kind, idx=tuple(idx), segments=segments, beside=beside))
        for a, b in clipped:
            self.q0.append(a)
            self.q1.append(b)
        for i in range(len(idx)):
            for j in range(i + 1, len(idx)):
                self.pairs.add(frozenset((idx[i], idx[j])))

    def try_tube(self, i, j, window=None, tries=1):
        if frozenset((i, j)) in self.pairs:
            return False
        for _ in range(tries):
            p0, p1 = self.endpoint(i), self.endpoint(j)
            near, gap = self.gaps(p0, p1, {i, j})
            if gap.size and gap.min() <= self.clear:
                continue
            beside = None
            if window is not None:
                inside = (gap > window[0]) & (gap < window[1])
                if not inside.any():
                    continue
                beside = int(near[np.argmax(inside)])
            cl = self.clipped(p0, p1, i, j)
            cl = [cl] if cl is not None else []
            if not self.separated(cl):
                continue
            self.add("tube", (i, j), [(p0, p1)], cl, beside)
            return True
        return False

    def try_y(self, tri, tries=8):
        if any(frozenset(p) in self.pairs for p in ((tri[0], tri[1]), (tri[0], tri[2]), (tri[1], tri[2]))):
            return False
        for _ in range(tries):
            J = self.rng.dirichlet((4.0, 4.0, 4.0)) @ self.c[list(tri)]
            near = self.tree.query_ball_point(J, self.R.max() + self.r + self.search + 4 * self.h)
            if near and np.any(np.linalg.norm(self.c[near] - J, axis=1) - self.R[near] - self.r <= self.clear):
                continue
            segs, cl, ok = [], [], True
            for i in tri:
                p = self.endpoint(i)
                _, gap = self.gaps(J, p, {i})
                if gap.size and gap.min() <= self.clear:
                    ok = False
                    break
                segs.append((J, p))
                c = self.clipped(J, p, None, i)
                if c is not None:
                    cl.append(c)
            if ok and self.separated(cl):
                self.add("y", tri, segs, cl)
                return True
        return False


def make_phantom(shape, n_nodes, *, spacing=(1.0, 1.0, 1.0), seed=0, node_radius=(4.0, 7.0),
                 vessel_radius=1.5, search=None, y_fraction=0.15, beside_fraction=0.1,
                 vessels_per_node=1.0, min_gap=None, label_ids="dense", dtype=None, k_neighbours=6):
    """Random balls joined by tubes and Y's, with the exact network they encode.

    Lengths (``node_radius``, ``vessel_radius``, ``search``, ``min_gap``) are
    physical. ``vessels_per_node * N`` vessels are tried for between
    ``k_neighbours`` nearest neighbours: first ``y_fraction`` of that number as
    Y's, then ``beside_fraction`` of it as straight tubes passing close beside
    a third ball, then plain tubes. The clearance rules leave room for fewer:
    about 0.6 N vessels at the defaults (e.g. 512^3, 1600 nodes: 917 vessels,
    240 Y's, 160 beside, 1397 true edges), so the Y's and beside tubes are a
    larger share of the result than the fractions. Deterministic by ``seed``.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3:
        raise ValueError("shape must be (z, y, x); use (1, Y, X) for 2D")
    sp = np.asarray(spacing, float)
    is2d = shape[0] == 1
    h = float(sp[1:].max() if is2d else sp.max())
    search = 3.0 * h if search is None else float(search)
    half_diag = 0.5 * float(np.linalg.norm(sp[1:] if is2d else sp))
    r = max(float(vessel_radius), 1.01 * half_diag)
    min_gap = 2.0 * h if min_gap is None else float(min_gap)
    rng = np.random.default_rng(seed)

    labels, dtype = _node_labels(n_nodes, label_ids, rng, dtype)
    centers, radii = _place_nodes(shape, sp, n_nodes, node_radius, min_gap, rng, is2d)
    b = _Builder(centers, radii, r, search, h, rng, is2d)

    n_total = int(round(vessels_per_node * n_nodes))
    n_y, n_beside = int(round(y_fraction * n_total)), int(round(beside_fraction * n_total))
    k = min(k_neighbours, n_nodes - 1)
    if k >= 1:
        _, nbr = b.tree.query(centers, k=k + 1)
        pairs = np.unique(np.sort(np.stack([np.repeat(np.arange(n_nodes), k), nbr[:, 1:].ravel()], 1), 1), axis=0)
        pairs = pairs[rng.permutation(len(pairs))]
        if k >= 2 and n_y:
            for i in rng.permutation(n_nodes):
                if len(b.vessels) >= n_y:
                    break
                for _ in range(3):
                    j1, j2 = rng.choice(nbr[i, 1:], size=2, replace=False)
                    if b.try_y((int(i), int(j1), int(j2))):
                        break
        if n_beside:
            lo, hi = search + 2.25 * h, search + 3.75 * h
            target = len(b.vessels) + n_beside
            for i, j in pairs:
                if len(b.vessels) >= target:
                    break
                _, gap = b.gaps(centers[i], centers[j], {i, j})
                if gap.size and np.any((gap > lo - 0.5 * radii.max()) & (gap < hi + 0.5 * radii.max())):
                    b.try_tube(int(i), int(j), window=(lo, hi), tries=12)
        for i, j in pairs:
            if len(b.vessels) >= n_total:
                break
            b.try_tube(int(i), int(j), tries=2)

    nodes = np.zeros(shape, dtype)
    for c, rad, lab in zip(centers, radii, labels):
        nodes[_ball_voxels(c, rad, sp, shape)] = lab
    edges = np.zeros(shape, np.uint8)
    vessels, truth = [], set()
    for v in b.vessels:
        for p0, p1 in v["segments"]:
            edges[capsule_voxels(p0, p1, r, sp, shape)] = 1
        labs = tuple(labels[list(v["idx"])].tolist())
        vessels.append(dict(kind=v["kind"], nodes=labs, segments=v["segments"],
                            beside=None if v["beside"] is None else labels[v["beside"]].item()))
        for i in range(len(labs)):
            for j in range(i + 1, len(labs)):
                truth.add((min(labs[i], labs[j]), max(labs[i], labs[j])))
    return Phantom(nodes=nodes, edges=edges, spacing=tuple(float(s) for s in sp), true_edges=truth,
                   search=search, labels=labels, centers=centers, radii=radii, vessel_radius=r,
                   vessels=vessels)


def make_close_pair_phantom(spacing=(1.0, 1.0, 1.0), search=None, node_radius=None):
    """Two vessels running side by side one voxel apart (along y), not touching.

    Vessel 1 is a straight bar from node 1 to node 2; vessel 2 leaves node 3,
    runs alongside vessel 1 with one empty voxel row between them, and ends at
    node 4. Bars are 2 voxels thick in z and y. The truth is {(1, 2), (3, 4)};
    a one-voxel dilation of the vessels merges them into one object touching
    all four search regions (false edges (1, 3), (1, 4), (2, 3), (2, 4)).
    """
    sp = np.asarray(spacing, float)
    h = float(sp.max())
    search = 3.0 * h if search is None else float(search)
    R = 5.0 * h if node_radius is None else float(node_radius)
    reach = R + search + 4 * h  # distance a node must keep from the other bar
    ny, nx = (int(np.ceil(reach / sp[i])) + 2 for i in (1, 2))
    nzr = int(np.ceil(R / sp[0]))
    Z = 2 * nzr + 3
    zc = Z // 2
    y1 = ny + 2  # vessel 1 rows: y1, y1+1; empty row y1+2; vessel 2 rows y1+3, y1+4
    y2 = y1 + 3
    yn = y2 + ny  # row of nodes 3 and 4
    xa, xc = nx, 2 * nx + 2
    xd, xb = xc + 3 * nx, 4 * nx + 3 * nx + 4
    shape = (Z, yn + ny + 2, xb + nx + 1)
    nodes = np.zeros(shape, np.uint8)
    centers = [(zc, y1, xa), (zc, y1, xb), (zc, yn, xc), (zc, yn, xd)]
    for lab, c in enumerate(centers, start=1):
        nodes[_ball_voxels(np.array(c) * sp, R, sp, shape)] = lab
    edges = np.zeros(shape, np.uint8)
    zs = slice(zc, zc + 2)
    edges[zs, y1:y1 + 2, xa:xb + 1] = 1  # vessel 1
    edges[zs, y2:y2 + 2, xc:xd + 2] = 1  # vessel 2, the side-by-side run
    edges[zs, y2:yn + 1, xc:xc + 2] = 1  # up to node 3
    edges[zs, y2:yn + 1, xd:xd + 2] = 1  # up to node 4
    return Phantom(nodes=nodes, edges=edges, spacing=tuple(float(s) for s in sp),
                   true_edges={(1, 2), (3, 4)}, search=search, labels=np.arange(1, 5, dtype=np.uint8),
                   centers=np.array(centers, float) * sp, radii=np.full(4, R), vessel_radius=None,
                   vessels=[dict(kind="bar", nodes=(1, 2), segments=[], beside=None),
                            dict(kind="bar", nodes=(3, 4), segments=[], beside=None)])
