"""Child process of branches_vs_nettracer3d.py: NetTracer3D's branch pipeline on a cached mask.

Usage: python _run_nettracer3d_branches.py MASK.npy OUT.json

Runs ``nettracer.generate_nodes(mask)`` (skeletonise, find the branchpoint
regions) then ``nettracer.label_branches(mask, nodes, skeleton=skeleton)``
(break the skeleton at the nodes, label the pieces, spread the labels over
the mask), both with their defaults, and writes {"nodes_s", "labels_s",
"call_s", "load_s", "junctions", "branches", "skeleton_voxels", "labelled"}
to OUT.json. ``junctions`` is the number of branchpoint regions, ``branches``
the number of distinct branch labels in the output, ``labelled`` the fraction
of mask voxels that got a label. The main guard matters: NetTracer3D may
spawn worker processes.
"""

import json
import sys
import time

import numpy as np


def main(mask_path, out_path):
    t0 = time.perf_counter()
    mask = np.load(mask_path)
    load_s = time.perf_counter() - t0

    # imported before the clock, as Plexus's modules are
    from nettracer3d import nettracer

    t0 = time.perf_counter()
    nodes, skeleton = nettracer.generate_nodes(mask)
    t1 = time.perf_counter()
    labeled, _ = nettracer.label_branches(mask, nodes, skeleton=skeleton)
    t2 = time.perf_counter()

    present = np.bincount(labeled.ravel().astype(np.int64, copy=False))
    fg = mask > 0
    with open(out_path, "w") as f:
        json.dump({"nodes_s": t1 - t0, "labels_s": t2 - t1, "call_s": t2 - t0, "load_s": load_s,
                   "junctions": int(nodes.max()),  # label_objects numbers them 1..n
                   "branches": int(np.count_nonzero(present[1:])),
                   "skeleton_voxels": int(np.count_nonzero(skeleton)),
                   "labelled": float(np.count_nonzero(labeled[fg]) / max(int(fg.sum()), 1))}, f)


if __name__ == "__main__":
    main(*sys.argv[1:3])
