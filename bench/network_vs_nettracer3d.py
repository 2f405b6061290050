"""Benchmark: network through connecting objects, Plexus vs NetTracer3D 2.0.1.

How to run (from the repository root, with the Plexus venv):

    .venv/bin/python bench/network_vs_nettracer3d.py                 # 256^3 and 512^3
    .venv/bin/python bench/network_vs_nettracer3d.py --quick         # 128^3 smoke run
    .venv/bin/python bench/network_vs_nettracer3d.py --sizes 256 --repeat 3 --aniso
    .venv/bin/python bench/network_vs_nettracer3d.py --tools nettracer3d   # one side only

NetTracer3D lives in its own venv: ``--peer-python``, else $PLEXUS_PEER_PYTHON,
else /work/peer-venv/bin/python (see bench/README.md to install it). Its fast
search-region path needs the optional ``edt`` package (``nettracer3d[edt]``);
without it NetTracer3D falls back to scipy (reported per run). To add edt
without touching the peer venv: ``pip install --target DIR edt xs3d`` and pass
``--peer-pythonpath DIR`` (or $PLEXUS_PEER_PYTHONPATH).

A ground-truth phantom (tests/phantoms.py: balls joined by tubes and Y's,
with 10% of the tubes passing just outside a third node's search region) is
generated once per size and cached as .npy in bench/.cache. Each tool then
runs in its own fresh subprocess, one after the other, loading the arrays with
np.load and building the network (search radius = the phantom's, spacing 1).

Columns:
  nodes, voxels   node count and volume size of the phantom
  NT s, Plexus s  wall time of the call alone (timed inside the child around
                  ``Network_3D.calculate_all`` / ``engine.network.connect``),
                  median over --repeat runs; ``proc`` is the whole child
                  process (interpreter start, imports, np.load, call, exit)
  speed           NT time / Plexus time (call), > 1 means Plexus is faster
  NT RSS, Plexus RSS
                  peak resident memory of the child and all its descendants
                  (psutil, process tree polled every ~20 ms, RSS summed over
                  the tree, max over time). Cross-check: ``ru_maxrss`` from
                  os.wait4 (the kernel's peak of the child or its largest
                  waited-for descendant, not summed), the per-child value of
                  resource.getrusage(RUSAGE_CHILDREN)
  mem             Plexus RSS / NT RSS, < 1 means Plexus uses less
  agree           Plexus edge set == NetTracer3D edge set
  P=truth, NT=truth
                  edge set == the phantom's true edge set; when not, the
                  counts of missing (-) and extra (+) edges
  floor           a child that only np.loads both arrays: the physical floor
The anisotropic row (--aniso, dz = 2 dx) checks agreement with the truth
only: NetTracer3D's search region ignores the voxel spacing (it calls
smart_dilate without xy_scale/z_scale, so ``search`` counts voxels).
Results also go to bench/results/network.json.
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _child import run_measured, write_results  # noqa: E402

NODES_PER_VOXEL = 200 / 256**3  # ~200 nodes at 256^3, ~1600 at 512^3
TOOLS = {"nettracer3d": "_run_nettracer3d.py", "nettracer3d-edt": "_run_nettracer3d.py",
         "plexus": "_run_plexus.py", "floor": "_run_baseline.py"}


def phantom_files(cache, shape, spacing, seed):
    """Generate (or reuse) the phantom; return the paths and its metadata."""
    from phantoms import make_phantom

    n_nodes = max(4, round(NODES_PER_VOXEL * np.prod(shape)))
    tag = "x".join(map(str, shape)) + f"_n{n_nodes}_s{seed}_sp" + "-".join(f"{s:g}" for s in spacing)
    paths = {k: cache / f"phantom_{tag}_{k}" for k in ("nodes.npy", "edges.npy", "meta.json")}
    if all(p.exists() for p in paths.values()):
        return paths, json.loads(paths["meta.json"].read_text())
    t0 = time.perf_counter()
    ph = make_phantom(shape, n_nodes, spacing=spacing, seed=seed)
    gen_s = time.perf_counter() - t0
    cache.mkdir(parents=True, exist_ok=True)
    np.save(paths["nodes.npy"], ph.nodes)
    np.save(paths["edges.npy"], ph.edges)
    kinds = [v["kind"] for v in ph.vessels]
    meta = dict(shape=list(shape), spacing=list(spacing), seed=seed, n_nodes=n_nodes,
                search=ph.search, generation_s=gen_s, n_tubes=kinds.count("tube"), n_y=kinds.count("y"),
                n_beside=sum(v["beside"] is not None for v in ph.vessels),
                true_edges=sorted([int(a), int(b)] for a, b in ph.true_edges))
    paths["meta.json"].write_text(json.dumps(meta))
    return paths, meta


def run_child(python, tool, paths, search, spacing, out_json, timeout, log, pythonpath=None):
    """Run one child; measure whole-process wall time and peak RSS of its tree."""

    cmd = [python, str(HERE / TOOLS[tool]), str(paths["nodes.npy"]), str(paths["edges.npy"]),
           repr(float(search)), *(repr(float(s)) for s in spacing), str(out_json)]
    if out_json.exists():
        out_json.unlink()
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([pythonpath, *filter(None, [env.get("PYTHONPATH")])])
    res = run_measured(cmd, log, timeout, cwd=ROOT, env=env)
    status = res["status"]
    if status == 0 and out_json.exists():
        res.update(json.loads(out_json.read_text()))
    return res


def compare(found, truth):
    found, truth = set(map(tuple, found)), set(map(tuple, truth))
    return dict(equal=found == truth, missing=len(truth - found), extra=len(found - truth))


def verdict(c):
    if c is None:
        return "-"
    return "yes" if c["equal"] else f"no (-{c['missing']} +{c['extra']})"


def gb(x):
    return f"{x / 2**30:.2f} GB" if x else "-"


def run_case(args, label, shape, spacing):
    cache = Path(args.cache_dir)
    paths, meta = phantom_files(cache, shape, spacing, args.seed)
    truth = meta["true_edges"]
    pythons = {"nettracer3d": args.peer_python, "nettracer3d-edt": args.peer_python,
               "plexus": args.plexus_python, "floor": args.plexus_python}
    pythonpaths = {"nettracer3d": args.peer_pythonpath, "nettracer3d-edt": args.peer_edt_path}
    row = dict(case=label, shape=list(shape), spacing=list(spacing), nodes=meta["n_nodes"],
               voxels=int(np.prod(shape)), true_edges=len(truth), search=meta["search"],
               generation_s=meta["generation_s"], runs={})
    print(f"\n== {label}: {meta['n_nodes']} nodes, {row['voxels'] / 1e6:.1f} M voxels, spacing {tuple(spacing)}, "
          f"search {meta['search']:g}; {len(truth)} true edges ({meta['n_tubes']} tubes, {meta['n_y']} Y's, "
          f"{meta['n_beside']} beside a node); phantom generated in {meta['generation_s']:.1f} s", flush=True)
    with open(cache / f"log_{label}.txt", "w") as log:
        for tool in ["floor", *args.tools]:
            runs = []
            for k in range(args.repeat):
                r = run_child(pythons[tool], tool, paths, meta["search"], spacing,
                              cache / f"out_{label}_{tool}.json", args.timeout, log,
                              pythonpaths.get(tool))
                runs.append(r)
                extra = "" if "edt" not in r else (" [edt fast path]" if r["edt"] else " [no edt: scipy fallback]")
                print(f"   {tool:12s} run {k + 1}: call {r.get('call_s', float('nan')):8.2f} s, process "
                      f"{r['process_s']:8.2f} s, peak RSS {gb(r['peak_rss'])}, ru_maxrss {gb(r['ru_maxrss'])}"
                      + extra + ("" if r["status"] == 0 else f"  FAILED ({r['status']}, see {log.name})"), flush=True)
            ok = [r for r in runs if r["status"] == 0]
            summary = dict(runs=runs, ok=bool(ok))
            if ok:
                summary.update(call_s=statistics.median(r["call_s"] for r in ok),
                               process_s=statistics.median(r["process_s"] for r in ok),
                               peak_rss=max(r["peak_rss"] for r in ok), ru_maxrss=max(r["ru_maxrss"] for r in ok),
                               edges=ok[-1]["edges"],
                               truth=None if tool == "floor" else compare(ok[-1]["edges"], truth))
            row["runs"][tool] = summary
    nt, px = row["runs"].get("nettracer3d", {}), row["runs"].get("plexus", {})
    if nt.get("ok") and px.get("ok"):
        row["agree"] = compare(px["edges"], nt["edges"])
        row["speed_nt_over_plexus"] = nt["call_s"] / px["call_s"]
        row["speed_process"] = nt["process_s"] / px["process_s"]
        row["mem_plexus_over_nt"] = px["peak_rss"] / nt["peak_rss"]
    edt = row["runs"].get("nettracer3d-edt", {})
    if edt.get("ok") and px.get("ok"):
        row["agree_edt"] = compare(px["edges"], edt["edges"])
        row["speed_edt_over_plexus"] = edt["call_s"] / px["call_s"]
        row["mem_plexus_over_edt"] = px["peak_rss"] / edt["peak_rss"]
    for r in row["runs"].values():
        r.pop("edges", None)
    return row


def print_table(rows):
    head = ["case", "nodes", "voxels", "floor s", "NT s (proc)", "Plexus s (proc)", "speed",
            "NT RSS", "Plexus RSS", "mem", "agree", "P=truth", "NT=truth",
            "NT+edt s", "speed", "NT+edt RSS", "mem", "agree"]
    lines = []
    for row in rows:
        nt, px, fl, edt = (row["runs"].get(t, {})
                           for t in ("nettracer3d", "plexus", "floor", "nettracer3d-edt"))

        def t(r):
            return f"{r['call_s']:.2f} ({r['process_s']:.1f})" if r.get("ok") else "-"

        aniso = len(set(row["spacing"])) > 1
        lines.append([
            row["case"], str(row["nodes"]), f"{row['voxels'] / 1e6:.1f} M", f"{fl['call_s']:.2f}" if fl.get("ok") else "-",
            t(nt), t(px),
            f"{row['speed_nt_over_plexus']:.1f}x" if "speed_nt_over_plexus" in row and not aniso else "-",
            gb(nt.get("peak_rss")), gb(px.get("peak_rss")),
            f"{row['mem_plexus_over_nt']:.2f}" if "mem_plexus_over_nt" in row and not aniso else "-",
            verdict(row.get("agree")) if not aniso else "n/a", verdict(px.get("truth")), verdict(nt.get("truth")),
            t(edt),
            f"{row['speed_edt_over_plexus']:.1f}x" if "speed_edt_over_plexus" in row and not aniso else "-",
            gb(edt.get("peak_rss")),
            f"{row['mem_plexus_over_edt']:.2f}" if "mem_plexus_over_edt" in row and not aniso else "-",
            verdict(row.get("agree_edt")) if not aniso else "n/a",
        ])
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    print()
    for line in [head, *lines]:
        print("  ".join(x.ljust(w) for x, w in zip(line, widths)))
    print("(floor: np.load of both arrays in a fresh process; time = call, (proc) = whole child process; "
          "speed = NT/Plexus call time; mem = Plexus/NT peak RSS of the process tree)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512], help="cube edge lengths")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool (median time, max memory)")
    ap.add_argument("--quick", action="store_true", help="a single 128^3 case (smoke run)")
    ap.add_argument("--aniso", action="store_true", help="add a 256^3-voxel case with spacing (2, 1, 1)")
    ap.add_argument("--tools", nargs="+", default=None, choices=["nettracer3d", "nettracer3d-edt", "plexus"],
                    help="default: nettracer3d, nettracer3d-edt (when --peer-edt-path is set), plexus")
    ap.add_argument("--peer-python", default=os.environ.get("PLEXUS_PEER_PYTHON", "/work/peer-venv/bin/python"))
    ap.add_argument("--peer-pythonpath", default=os.environ.get("PLEXUS_PEER_PYTHONPATH"),
                    help="extra PYTHONPATH for the NetTracer3D child (e.g. a --target dir holding edt)")
    ap.add_argument("--peer-edt-path", default=os.environ.get("PLEXUS_PEER_EDT_PATH"),
                    help="a --target dir holding edt and xs3d: adds a NetTracer3D run on its edt "
                         "fast path (the configuration of `pip install nettracer3d[edt]`)")
    ap.add_argument("--plexus-python", default=sys.executable)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per child run")
    ap.add_argument("--cache-dir", default=str(HERE / ".cache"))
    ap.add_argument("--out", default=str(HERE / "results" / "network.json"))
    args = ap.parse_args(argv)
    if args.tools is None:
        args.tools = ["nettracer3d", *(["nettracer3d-edt"] if args.peer_edt_path else []), "plexus"]

    cases = [(f"{s}^3", (s, s, s), (1.0, 1.0, 1.0)) for s in ([128] if args.quick else args.sizes)]
    if args.aniso:
        s = 128 if args.quick else 256
        cases.append((f"{s // 2}x{s}^2 aniso", (s // 2, s, s), (2.0, 1.0, 1.0)))
    rows = [run_case(args, *c) for c in cases]
    print_table(rows)
    write_results(args.out, args, rows)


if __name__ == "__main__":
    main()
