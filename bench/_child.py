"""Run a benchmark child process and measure it from outside.

Shared by the side-by-side benchmarks: whole-process wall time and the peak
RSS of the child's process tree (sampled every 20 ms, children included, as
NetTracer3D spawns workers), with a timeout.
"""

import json
import os
import subprocess
import time
from pathlib import Path


def run_measured(cmd, log, timeout, *, cwd, env=None):
    """Run ``cmd``; return ``dict(process_s, peak_rss, ru_maxrss, status)``."""
    import psutil

    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=str(cwd), env=env)
    ps = psutil.Process(proc.pid)
    peak, status, usage = 0, None, None
    while status is None:
        total = 0
        try:
            for p in [ps, *ps.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except (psutil.NoSuchProcess, psutil.AccessDenied):
                    pass
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
        peak = max(peak, total)
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, usage = os.waitstatus_to_exitcode(st), ru
            break
        if time.perf_counter() - t0 > timeout:
            proc.kill()
            _, st, usage = os.wait4(proc.pid, 0)
            status = "timeout"
            break
        time.sleep(0.02)
    proc.returncode = status if isinstance(status, int) else -9
    return dict(process_s=time.perf_counter() - t0, peak_rss=peak,
                ru_maxrss=usage.ru_maxrss * 1024, status=status)


def write_results(path, args, rows):
    """Write the benchmark's rows with the interpreters and core count as JSON."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(dict(peer_python=args.peer_python, plexus_python=args.plexus_python,
                                   cpus=os.cpu_count(), rows=rows), indent=1))
    print(f"\nresults written to {out}")
