"""Run a benchmark child process and measure it from outside.

Shared by the side-by-side benchmarks: whole-process wall time and the peak
RSS of the child's process tree (sampled every 20 ms, children included, as
NetTracer3D spawns workers), with a timeout.
"""

import os
import subprocess
import time


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
