"""Benchmark: a network from a volume 4x larger than the workers' memory.

How to run (from the repository root, with the Plexus venv):

    .venv/bin/python bench/blockwise_scale.py                  # 2048^3 (8.6 GB), 2 GB workers
    .venv/bin/python bench/blockwise_scale.py --tiles 2 --memory-limit 512MB   # 1024^3 smoke run

The volume is a uint8 intensity image written to zarr chunk by chunk: the
512^3 ground-truth phantom of tests/phantoms.py (1,600 balls joined by
tubes; balls 200, tubes 100, background 10) tiled ``--tiles`` times per
axis. Tiles never touch, so the true network is ``tiles^3`` copies of the
phantom's: the edge and node counts are checked against that.

The same pipeline runs both ways:

* in memory on one tile (it fits): ``vol > 150`` -> ``engine.label.connected_components``
  -> ``engine.network.connect(labels, 50 < vol <= 150, search=3)``, in a
  child process whose peak RSS is reported;
* blockwise on the whole volume through a ``dask.distributed.LocalCluster``
  (``--workers`` processes sharing ``--memory-limit``): the node labels are
  computed and stored to an OME-Zarr (``engine.blockwise.connected_components``
  + ``store_ome_zarr``), then ``engine.blockwise.connect`` reads them and the
  lazily thresholded edges.

A thread in each worker samples its RSS every 20 ms; the table prints the
peak per worker beside the limit, whether any worker was restarted, the
client's peak RSS, the total time and the time per gigavoxel of both paths.
"""

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

NODE, VESSEL, BACKGROUND = 200, 100, 10
SEARCH = 3.0


def phantom_tile(size, cache):
    """The uint8 tile and its in-memory truth counts (cached as .npy)."""
    path = cache / f"scale_tile_{size}.npy"
    if not path.exists():
        from phantoms import make_phantom

        n_nodes = int(1600 * (size / 512) ** 3)
        ph = make_phantom((size,) * 3, n_nodes, seed=0)
        tile = np.full(ph.nodes.shape, BACKGROUND, np.uint8)
        tile[ph.edges > 0] = VESSEL
        tile[ph.nodes > 0] = NODE
        cache.mkdir(parents=True, exist_ok=True)
        np.save(path, tile)
    return np.load(path)


def write_volume(path, tile, tiles, chunks):
    """The tiled volume as a zarr, one chunk at a time (not timed)."""
    import zarr

    size = tile.shape[0]
    if size % chunks:
        raise SystemExit(f"--chunks must divide the tile size {size}")
    shape = (size * tiles,) * 3
    if path.exists():
        array = zarr.open_array(path, mode="r")
        if array.shape == shape and array.chunks == (chunks,) * 3:
            return array
        shutil.rmtree(path)
    array = zarr.create_array(path, shape=shape, chunks=(chunks,) * 3, dtype=np.uint8,
                              zarr_format=2)
    starts = [(z, y, x) for z in range(0, shape[0], chunks)
              for y in range(0, shape[1], chunks) for x in range(0, shape[2], chunks)]

    def one(start):
        box = tuple(slice(s % size, s % size + chunks) for s in start)
        array[tuple(slice(s, s + chunks) for s in start)] = tile[box]

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(one, starts))
    return array


def in_memory(tile_path):
    """Child process: the in-memory pipeline on one tile; prints JSON."""
    from engine.label import connected_components
    from engine.network import connect

    tile = np.load(tile_path)
    start = time.perf_counter()
    labels, _n = connected_components(tile > 150)
    edges = ((tile > 50) & (tile <= 150)).view(np.uint8)
    net = connect(labels, edges, search=SEARCH)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "edges": len(net.edges), "nodes": len(net.nodes),
                      "voxels": int(tile.size),
                      "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))


def _start_sampler(dask_worker=None):
    import psutil

    process = psutil.Process(os.getpid())
    state = {"peak": process.memory_info().rss, "stop": False}

    def loop():
        while not state["stop"]:
            state["peak"] = max(state["peak"], process.memory_info().rss)
            time.sleep(0.02)

    threading.Thread(target=loop, daemon=True).start()
    dask_worker._plexus_rss = state
    return os.getpid()


def _sent(dask_worker=None):
    return dask_worker.transfer_outgoing_bytes_total


def _read_sampler(dask_worker=None):
    state = dask_worker._plexus_rss
    state["stop"] = True
    return os.getpid(), state["peak"]


class ClientPeak:
    def __init__(self):
        import psutil

        self.process, self.peak, self.stop = psutil.Process(), 0, False
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while not self.stop:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)


def blockwise(volume_path, work, workers, memory_limit, chunks):
    import dask.array as da

    from engine import blockwise as bw

    client_peak = ClientPeak()
    source = da.from_zarr(str(volume_path))
    steps = {}
    with bw.scheduler("processes", memory_limit=memory_limit, workers=workers) as client:
        pids = client.run(_start_sampler)
        start = time.perf_counter()
        done = {"n": 0}

        def progress(d, t):
            if d == t or d % max(t // 10, 1) == 0:
                print(f"    {d}/{t} chunks", flush=True)

        moved = {}

        def sent():
            return sum(client.run(_sent).values())

        labels = bw.connected_components(source > 150, progress=progress)
        steps["label (pass 1)"] = time.perf_counter() - start
        moved["label (pass 1)"] = sent()
        nodes_path = work / "nodes.zarr"
        bw.store_ome_zarr(nodes_path, labels.to_dask(), labels=True, overwrite=True,
                          progress=progress)
        steps["label (store)"] = time.perf_counter() - start - sum(steps.values())
        moved["label (store)"] = sent() - sum(moved.values())
        edges = ((source > 50) & (source <= 150)).astype(np.uint8)
        net = bw.connect(nodes_path, edges, search=SEARCH, chunks=(chunks,) * 3,
                         progress=progress)
        steps["network"] = time.perf_counter() - start - sum(steps.values())
        moved["network"] = sent() - sum(moved.values())
        total = time.perf_counter() - start
        peaks = client.run(_read_sampler)
        restarted = set(pids.values()) != {pid for pid, _ in peaks.values()}
        done["n"] = 1
    client_peak.stop = True
    return {"seconds": total, "steps": steps, "edges": len(net.edges), "nodes": len(net.nodes),
            "labels": labels.n, "worker_peaks_gb": [p / 1e9 for _pid, p in peaks.values()],
            "restarted": restarted, "moved_gb": {k: v / 1e9 for k, v in moved.items()},
            "client_peak_gb": client_peak.peak / 1e9,
            "voxels": int(np.prod(source.shape))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--tiles", type=int, default=4, help="tiles per axis (4: 2048^3)")
    parser.add_argument("--chunks", type=int, default=256)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="2GB", help="total for the workers")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / ".cache" / "scale")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return in_memory(args.child)
    from engine.blockwise import parse_memory

    cache = ROOT / "bench" / ".cache"
    tile = phantom_tile(args.tile, cache)
    args.work.mkdir(parents=True, exist_ok=True)
    volume_path = args.work / f"volume_{args.tile}x{args.tiles}_{args.chunks}.zarr"
    t0 = time.perf_counter()
    write_volume(volume_path, tile, args.tiles, args.chunks)
    print(f"volume {volume_path.name}: {(args.tile * args.tiles) ** 3 / 1e9:.2f} GB uint8 "
          f"(written in {time.perf_counter() - t0:.0f} s)", flush=True)
    del tile

    child = subprocess.run(
        [sys.executable, __file__, "--child", str(cache / f"scale_tile_{args.tile}.npy")],
        capture_output=True, text=True, check=True, cwd=ROOT)
    memory = json.loads(child.stdout.strip().splitlines()[-1])
    print(f"in memory, one tile: {memory['seconds']:.1f} s", flush=True)
    result = blockwise(volume_path, args.work, args.workers, args.memory_limit, args.chunks)

    copies = args.tiles ** 3
    limit = parse_memory(args.memory_limit)
    gvox_b, gvox_m = result["voxels"] / 1e9, memory["voxels"] / 1e9
    rows = [
        ("volume", f"{result['voxels'] / 1e9:.2f} GB uint8 ({args.tile * args.tiles}^3), "
                   f"{result['voxels'] / limit:.1f} x the workers' memory"),
        ("workers", f"{args.workers} processes, {args.memory_limit} in total "
                    f"({limit / args.workers / 1e9:.2f} GB each), chunks {args.chunks}^3"),
        ("peak RSS per worker", ", ".join(f"{p:.2f} GB" for p in result["worker_peaks_gb"])
         + f" (limit {limit / args.workers / 1e9:.2f} GB)"),
        ("worker restarted", str(result["restarted"])),
        ("client peak RSS", f"{result['client_peak_gb']:.2f} GB"),
        ("sent between workers", ", ".join(f"{k} {v:.2f} GB"
                                           for k, v in result["moved_gb"].items())),
        ("blockwise total", f"{result['seconds']:.0f} s = "
                            + ", ".join(f"{k} {v:.0f} s" for k, v in result["steps"].items())),
        ("blockwise s/GVox", f"{result['seconds'] / gvox_b:.1f}"),
        ("in memory s/GVox", f"{memory['seconds'] / gvox_m:.1f} (one {args.tile}^3 tile, "
                             f"peak RSS {memory['rss_gb']:.2f} GB)"),
        ("ratio", f"{(result['seconds'] / gvox_b) / (memory['seconds'] / gvox_m):.2f} "
                  "(blockwise / in-memory time per GVox)"),
        ("nodes", f"{result['nodes']} = {copies} x {memory['nodes']}: "
                  f"{result['nodes'] == copies * memory['nodes']}"),
        ("edges", f"{result['edges']} = {copies} x {memory['edges']}: "
                  f"{result['edges'] == copies * memory['edges']}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "blockwise_scale.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "blockwise": result,
         "in_memory": memory}, indent=2))


if __name__ == "__main__":
    main()
