"""Child process of network_vs_nettracer3d.py: Plexus on cached arrays.

Usage: python _run_plexus.py NODES.npy EDGES.npy SEARCH DZ DY DX OUT.json
Writes {"edges": [[a, b], ...], "call_s": ..., "load_s": ...} to OUT.json.
"""

import json
import os
import sys
import time

import numpy as np


def main(nodes_path, edges_path, search, dz, dy, dx, out_path):
    t0 = time.perf_counter()
    nodes = np.load(nodes_path)
    edges = np.load(edges_path)
    load_s = time.perf_counter() - t0

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import engine.network  # imported before the clock, as NetTracer3D's module is

    t0 = time.perf_counter()
    net = engine.network.connect(nodes, edges, search=search, spacing=(dz, dy, dx))
    call_s = time.perf_counter() - t0
    pairs = sorted({(int(a), int(b)) for a, b in zip(net.edges.node_a, net.edges.node_b)})
    with open(out_path, "w") as f:
        json.dump({"edges": pairs, "call_s": call_s, "load_s": load_s}, f)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], float(a[2]), float(a[3]), float(a[4]), float(a[5]), a[6])
