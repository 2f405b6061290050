"""Child process of branches_vs_nettracer3d.py: Plexus's branch pipeline on a cached mask.

Usage: python _run_plexus_branches.py MASK.npy OUT.json [--no-fix-branching | --floor]

Stage "nodes": ``skeletonize(mask)`` (kimimaro TEASAR) + ``Branches(graph)``
(branches, junctions, smoothed lengths); stage "labels":
``label_branches(mask, branches)``. Spacing 1. Writes {"nodes_s",
"skeleton_s", "branches_s", "labels_s", "call_s", "load_s", "junctions",
"branches", "skeleton_vertices", "labelled"} to OUT.json. ``--floor`` only
loads the mask (the physical floor of a child).
"""

import json
import os
import sys
import time

import numpy as np


def main(mask_path, out_path, *flags):
    t0 = time.perf_counter()
    mask = np.load(mask_path)
    load_s = time.perf_counter() - t0
    if "--floor" in flags:
        with open(out_path, "w") as f:
            json.dump({"call_s": load_s, "load_s": load_s, "bytes": int(mask.nbytes)}, f)
        return

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import kimimaro  # noqa: F401  imported before the clock, as NetTracer3D's module is

    from engine.skeleton import Branches, label_branches, skeletonize

    fix = "--no-fix-branching" not in flags
    t0 = time.perf_counter()
    graph = skeletonize(mask, (1.0, 1.0, 1.0), fix_branching=fix)
    t1 = time.perf_counter()
    branches = Branches(graph)
    t2 = time.perf_counter()
    labeled = label_branches(mask, branches)
    t3 = time.perf_counter()

    fg = mask > 0
    with open(out_path, "w") as f:
        json.dump({"nodes_s": t2 - t0, "skeleton_s": t1 - t0, "branches_s": t2 - t1, "labels_s": t3 - t2,
                   "call_s": t3 - t0, "load_s": load_s, "fix_branching": fix,
                   "junctions": len(branches.junctions), "branches": len(branches.table),
                   "skeleton_vertices": len(graph),
                   "labelled": float(np.count_nonzero(labeled[fg]) / max(int(fg.sum()), 1))}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
