"""Child process of network_vs_nettracer3d.py: NetTracer3D on cached arrays.

Usage: python _run_nettracer3d.py NODES.npy EDGES.npy SEARCH DZ DY DX OUT.json
Writes {"edges": [[a, b], ...], "call_s": ..., "load_s": ..., "edt": bool} to OUT.json
("edt": whether the optional edt package, NetTracer3D's fast path, was importable).
The main guard matters: NetTracer3D spawns worker processes.
"""

import importlib.util
import json
import sys
import time

import numpy as np


def main(nodes_path, edges_path, search, dz, dy, dx, out_path):
    t0 = time.perf_counter()
    nodes = np.load(nodes_path)
    edges = np.load(edges_path)
    load_s = time.perf_counter() - t0

    from nettracer3d import nettracer

    t0 = time.perf_counter()
    n = nettracer.Network_3D()
    n.calculate_all(nodes, edges, xy_scale=dx, z_scale=dz, search=search,
                    label_nodes=False, fast_dil=True, GPU=False)
    call_s = time.perf_counter() - t0
    pairs = sorted({tuple(sorted((int(a), int(b)))) for a, b in n.network.edges()})
    with open(out_path, "w") as f:
        json.dump({"edges": pairs, "call_s": call_s, "load_s": load_s,
                   "edt": importlib.util.find_spec("edt") is not None}, f)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], float(a[2]), float(a[3]), float(a[4]), float(a[5]), a[6])
