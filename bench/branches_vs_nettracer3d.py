"""Benchmark: branchpoints and branch labels of vessel trees, Plexus vs NetTracer3D 2.0.1.

How to run (from the repository root, with the Plexus venv):

    .venv/bin/python bench/branches_vs_nettracer3d.py                 # 256^3 and 512^3
    .venv/bin/python bench/branches_vs_nettracer3d.py --quick         # 128^3 smoke run
    .venv/bin/python bench/branches_vs_nettracer3d.py --sizes 256 --repeat 3
    .venv/bin/python bench/branches_vs_nettracer3d.py --tools plexus plexus-nofix   # one side only

NetTracer3D lives in its own venv: ``--peer-python``, else $PLEXUS_PEER_PYTHON,
else /work/peer-venv/bin/python (see bench/README.md to install it).

Input: a synthetic vessel forest with known segments and junctions
(tests/vessel_phantoms.py ``random_tree``: curved, tapering tubes, binary
branching): ``random_tree((256,)*3, seed=1)`` and ``random_tree((512,)*3,
seed=1, roots=8, radius=8)``, spacing 1. Each mask is generated once and
cached as uint8 .npy in bench/.cache (with the phantom's counts in a .json).
Each tool then runs in its own fresh subprocess, one after the other, on the
same np.load-ed uint8 array:

  NetTracer3D  stage "nodes":  ``nettracer.generate_nodes(mask)`` (scikit-image
                               thinning, twice, and branchpoint regions)
               stage "labels": ``nettracer.label_branches(mask, nodes, skeleton=skel)``
  Plexus       stage "nodes":  ``skeletonize(mask)`` (kimimaro TEASAR) + ``Branches(g)``
                               (branches, junctions, smoothed lengths)
               stage "labels": ``label_branches(mask, branches)``
  plexus-nofix the same with ``skeletonize(..., fix_branching=False)``

Columns:
  nodes s, labels s, total s
                  wall time of each stage, timed inside the child (imports
                  done before the clock); ``proc`` is the whole child process
                  (interpreter start, imports, np.load, the calls, counting, exit)
  RSS MB          peak resident memory of the child and all its descendants
                  (psutil, process tree polled every ~20 ms, RSS summed over
                  the tree, max over time); ``ru_maxrss`` (the kernel's peak of
                  the largest single process) is in the JSON
  NT/P            NetTracer3D time / this row's time, per stage and in total:
                  > 1 means Plexus is faster
  branches        NT: distinct labels in label_branches' output; Plexus:
                  rows of Branches.table
  junctions       NT: branchpoint regions of generate_nodes; Plexus: junction
                  nodes of Branches (adjacent junction vertices are one)
  labelled        fraction of mask voxels that got a branch label
  truth           the phantom's branches (segments, minus the degree-2 nodes a
                  skeleton cannot see: a parent whose second child was dropped)
                  and junctions (tree.segments, tree.junctions)
  floor           a child that only np.loads the mask
Results also go to bench/results/branches.json.
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

# cube edge -> random_tree keyword arguments (seed 1, spacing 1)
CASES = {128: dict(radius=3.0), 256: dict(), 512: dict(roots=8, radius=8.0)}
TOOLS = {"nettracer3d": ("_run_nettracer3d_branches.py", []),
         "plexus": ("_run_plexus_branches.py", []),
         "plexus-nofix": ("_run_plexus_branches.py", ["--no-fix-branching"]),
         "floor": ("_run_plexus_branches.py", ["--floor"])}


def phantom_files(cache, size, seed):
    """Generate (or reuse) the vessel mask; return its path and the phantom's counts."""
    from vessel_phantoms import random_tree

    kw = CASES.get(size, {})
    tag = f"vessels_{size}^3_s{seed}" + "".join(f"_{k}{v:g}" for k, v in sorted(kw.items()))
    mask_path, meta_path = cache / f"{tag}_mask.npy", cache / f"{tag}_meta.json"
    if mask_path.exists() and meta_path.exists():
        return mask_path, json.loads(meta_path.read_text())
    t0 = time.perf_counter()
    tree = random_tree((size,) * 3, seed=seed, **kw)
    mask = tree.mask()
    gen_s = time.perf_counter() - t0
    degree2 = sum(tree.degree(n) == 2 for n in tree.nodes)
    cache.mkdir(parents=True, exist_ok=True)
    np.save(mask_path, mask.view(np.uint8))
    meta = dict(shape=[size] * 3, seed=seed, kwargs=kw, generation_s=gen_s, voxels=int(mask.sum()),
                segments=len(tree.segments), junctions=len(tree.junctions), tips=len(tree.tips),
                degree2=degree2, branches=len(tree.segments) - degree2,
                length=float(sum(s.length for s in tree.segments)))
    meta_path.write_text(json.dumps(meta))
    return mask_path, meta


def run_child(python, tool, mask_path, out_json, timeout, log):
    """Run one child; measure whole-process wall time and peak RSS of its tree."""

    script, flags = TOOLS[tool]
    cmd = [python, str(HERE / script), str(mask_path), str(out_json), *flags]
    if out_json.exists():
        out_json.unlink()
    log.write(f"\n$ {' '.join(cmd)}\n")
    log.flush()
    res = run_measured(cmd, log, timeout, cwd=ROOT)
    status = res["status"]
    if status == 0 and out_json.exists():
        res.update(json.loads(out_json.read_text()))
    return res


def mb(x):
    return f"{x / 2**20:.0f}" if x else "-"


def run_case(args, size):
    cache = Path(args.cache_dir)
    label = f"{size}^3"
    mask_path, meta = phantom_files(cache, size, args.seed)
    pythons = {"nettracer3d": args.peer_python}
    row = dict(case=label, shape=meta["shape"], mask_voxels=meta["voxels"], truth=meta, runs={})
    print(f"\n== {label}: random_tree(seed={args.seed}, {meta['kwargs']}), {meta['voxels'] / 1e6:.2f} M mask "
          f"voxels; truth {meta['segments']} segments ({meta['branches']} branches once "
          f"{meta['degree2']} degree-2 nodes are merged), {meta['junctions']} junctions, {meta['tips']} tips; "
          f"generated in {meta['generation_s']:.1f} s", flush=True)
    with open(cache / f"log_branches_{label}.txt", "w") as log:
        for tool in ["floor", *args.tools]:
            runs = []
            for k in range(args.repeat):
                r = run_child(pythons.get(tool, args.plexus_python), tool, mask_path,
                              cache / f"out_branches_{label}_{tool}.json", args.timeout, log)
                runs.append(r)
                if r["status"] != 0:
                    print(f"   {tool:12s} run {k + 1}: FAILED ({r['status']}, see {log.name})", flush=True)
                elif tool == "floor":
                    print(f"   {tool:12s} run {k + 1}: load {r['call_s']:.2f} s, process {r['process_s']:.2f} s, "
                          f"peak RSS {mb(r['peak_rss'])} MB", flush=True)
                else:
                    print(f"   {tool:12s} run {k + 1}: nodes {r['nodes_s']:7.2f} s, labels {r['labels_s']:7.2f} s, "
                          f"process {r['process_s']:7.2f} s, peak RSS {mb(r['peak_rss'])} MB; "
                          f"{r['branches']} branches, {r['junctions']} junctions", flush=True)
            ok = [r for r in runs if r["status"] == 0]
            summary = dict(runs=runs, ok=bool(ok))
            if ok:
                keys = ["call_s", "process_s"] + ([] if tool == "floor" else ["nodes_s", "labels_s"])
                summary.update({k: statistics.median(r[k] for r in ok) for k in keys})
                summary.update(peak_rss=max(r["peak_rss"] for r in ok), ru_maxrss=max(r["ru_maxrss"] for r in ok))
                for k in ("branches", "junctions", "labelled"):
                    if k in ok[-1]:
                        summary[k] = ok[-1][k]
            row["runs"][tool] = summary
    nt = row["runs"].get("nettracer3d", {})
    for tool in ("plexus", "plexus-nofix"):
        px = row["runs"].get(tool, {})
        if nt.get("ok") and px.get("ok"):
            px["speed"] = {stage: nt[k] / px[k] for stage, k in
                           (("nodes", "nodes_s"), ("labels", "labels_s"), ("total", "call_s"))}
            px["mem_over_nt"] = px["peak_rss"] / nt["peak_rss"]
    return row


def print_table(rows):
    head = ["size", "tool", "nodes s", "labels s", "total s (proc)", "RSS MB", "NT/P nodes", "NT/P labels",
            "NT/P total", "branches", "junctions", "labelled", "truth br/seg", "truth junct"]
    lines = []
    for row in rows:
        t = row["truth"]
        for tool in ("floor", "nettracer3d", "plexus", "plexus-nofix"):
            r = row["runs"].get(tool)
            if r is None:
                continue
            name = {"nettracer3d": "NetTracer3D", "plexus": "Plexus", "plexus-nofix": "Plexus nofix",
                    "floor": "floor (np.load)"}[tool]
            if not r.get("ok"):
                lines.append([row["case"], name, "FAILED"] + [""] * (len(head) - 3))
                continue
            sp = r.get("speed", {})

            def fmt(k, sp=sp):
                return f"{sp[k]:.2f}x" if k in sp else "-"

            lines.append([
                row["case"], name,
                f"{r['nodes_s']:.2f}" if "nodes_s" in r else "-",
                f"{r['labels_s']:.2f}" if "labels_s" in r else "-",
                f"{r['call_s']:.2f} ({r['process_s']:.1f})", mb(r["peak_rss"]),
                fmt("nodes"), fmt("labels"), fmt("total"),
                str(r.get("branches", "-")), str(r.get("junctions", "-")),
                f"{100 * r['labelled']:.1f}%" if "labelled" in r else "-",
                f"{t['branches']}/{t['segments']}" if tool != "floor" else "",
                str(t["junctions"]) if tool != "floor" else "",
            ])
    widths = [max(len(x) for x in col) for col in zip(head, *lines)]
    print()
    for line in [head, *lines]:
        print("  ".join(x.ljust(w) for x, w in zip(line, widths)))
    print("(times: call inside the child, (proc) = whole child process; NT/P = NetTracer3D time / Plexus time, "
          "> 1 means Plexus is faster; RSS = peak of the process tree; truth br/seg = the phantom's branches "
          "(segments with degree-2 nodes merged) / segments)")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512], choices=sorted(CASES),
                    help="cube edge lengths")
    ap.add_argument("--repeat", type=int, default=1, help="runs per tool (median time, max memory)")
    ap.add_argument("--quick", action="store_true", help="a single 128^3 case (smoke run)")
    ap.add_argument("--tools", nargs="+", default=["nettracer3d", "plexus", "plexus-nofix"],
                    choices=["nettracer3d", "plexus", "plexus-nofix"])
    ap.add_argument("--peer-python", default=os.environ.get("PLEXUS_PEER_PYTHON", "/work/peer-venv/bin/python"))
    ap.add_argument("--plexus-python", default=sys.executable)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per child run")
    ap.add_argument("--cache-dir", default=str(HERE / ".cache"))
    ap.add_argument("--out", default=str(HERE / "results" / "branches.json"))
    args = ap.parse_args(argv)

    rows = [run_case(args, s) for s in ([128] if args.quick else args.sizes)]
    print_table(rows)
    write_results(args.out, args, rows)


if __name__ == "__main__":
    main()
