"""Child process of network_vs_nettracer3d.py: the physical floor, reading the inputs once.

Usage: python _run_baseline.py NODES.npy EDGES.npy SEARCH DZ DY DX OUT.json
"""

import json
import sys
import time

import numpy as np

if __name__ == "__main__":
    a = sys.argv[1:]
    t0 = time.perf_counter()
    nodes = np.load(a[0])
    edges = np.load(a[1])
    load_s = time.perf_counter() - t0
    with open(a[6], "w") as f:
        json.dump({"edges": [], "call_s": load_s, "load_s": load_s,
                   "bytes": int(nodes.nbytes + edges.nbytes)}, f)
