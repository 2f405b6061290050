"""Branch lengths, junctions and tortuosity against the synthetic trees' truth.

Usage: .venv/bin/python bench/skeleton_accuracy.py

For each tree of tests/vessel_phantoms.py (a straight Y; a tree of straight
and curved tubes) at three spacings, prints the worst relative length error
(Plexus smoothed, Plexus raw voxel path, and scikit-image's thinning
measured by skan, the usual recipe), the worst junction distance in tube
radii, and the worst tortuosity of a straight tube.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from engine.skeleton import Branches, skeletonize  # noqa: E402
from vessel_phantoms import curved_tree, match_branches, straight_y  # noqa: E402

SPACINGS = [(1.0, 1.0, 1.0), (2.0, 0.7, 0.7), (3.0, 1.0, 0.8)]


def skan_internal_error(tree, mask):
    """Worst error of skan on a scikit-image skeleton, over the junction-to-junction
    and junction-to-tip branches it matches to a true segment (None if skan is missing)."""
    try:
        import skan
        from skimage.morphology import skeletonize as thin
    except ImportError:
        return None
    summary = skan.summarize(skan.Skeleton(thin(mask), spacing=tree.spacing), separator="_")
    src = summary[["image_coord_src_0", "image_coord_src_1", "image_coord_src_2"]].to_numpy()
    dst = summary[["image_coord_dst_0", "image_coord_dst_1", "image_coord_dst_2"]].to_numpy()
    from vessel_phantoms import arc_position

    sp = np.asarray(tree.spacing)
    worst = 0.0
    for a, b, length in zip(src * sp, dst * sp, summary["branch_distance"]):
        fits = []
        for k in range(len(tree.segments)):
            c = tree.capped_centreline(k)
            (sa, da), (sb, db) = arc_position(c, a), arc_position(c, b)
            fits.append((da + db, abs(sb - sa)))
        d, true = min(fits)
        if true > 4 * tree.segments[0].radius:  # skip spurs
            worst = max(worst, abs(length / true - 1))
    return worst


def main():
    print(f"{'tree':<12} {'spacing':<12} {'branches':>9} {'junctions':>9} {'len err':>8} "
          f"{'raw err':>8} {'skan err':>8} {'junc/r':>7} {'straight tort':>13}")
    for make in (straight_y, curved_tree):
        for sp in SPACINGS:
            tree = make(sp)
            mask = tree.mask()
            graph = skeletonize(mask, sp)
            b, raw = Branches(graph), Branches(graph, smooth=0)
            err = max(abs(e) for _, e in match_branches(tree, b))
            raw_err = max(abs(e) for _, e in match_branches(tree, raw))
            found = b.junctions[["z", "y", "x"]].to_numpy(float)
            jd = max(np.linalg.norm(found - p, axis=1).min() for p in tree.junctions.values())
            straight = [k for k, s in enumerate(tree.segments)
                        if s.length / np.linalg.norm(s.points[-1] - s.points[0]) < 1 + 1e-9]
            tort = max(t for (k, _), t in zip(match_branches(tree, b), b.table["tortuosity"])
                       if k in straight)
            sk = skan_internal_error(tree, mask)
            sk = "-" if sk is None else f"{100 * sk:.1f}%"
            print(f"{make.__name__:<12} {'x'.join(f'{v:g}' for v in sp):<12} "
                  f"{len(b)}/{len(tree.segments):<7} {len(b.junctions)}/{len(tree.junctions):<7} "
                  f"{100 * err:>7.2f}% {100 * raw_err:>7.1f}% {sk:>8} "
                  f"{jd / tree.segments[0].radius:>7.2f} {tort:>13.4f}")


if __name__ == "__main__":
    main()
