"""Dashboard latency, measured in a real headless Chromium.

1. Slice step: the time from pressing ArrowRight on the slice slider to
   the new slice drawn (the data source changed and two animation frames
   passed), on a 600 MB uint16 volume with a label overlay. Plexus's
   slice browser (display-size uint8 planes) runs side by side with the
   usual HoloViews way (a DynamicMap of full-resolution ``hv.Image``
   planes with a label overlay), the peer, in the same browser and run.
2. First render: from opening the served explorer (``plexus serve``, demo
   data) to every view drawn (slice canvases, network graph, 3D pane or
   its image, table rows).

Run: ``.venv/bin/python bench/dashboard_latency.py [--steps 30]``.
Goals: slice step under 100 ms; first render under 5 s.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking"]

# Records when any ColumnDataSource changes, then when the next frame is painted.
HOOK = """
() => {
  window.__drawn = 0;
  for (const doc of Bokeh.documents) {
    for (const model of doc.all_models) {
      if (model.type === 'ColumnDataSource' || model.constructor.name === 'ColumnDataSource') {
        model.change.connect(() => requestAnimationFrame(() => requestAnimationFrame(
          () => { window.__drawn = performance.now(); })));
      }
    }
  }
  document.addEventListener('keydown', () => { window.__pressed = performance.now(); }, true);
  return Bokeh.documents.length;
}
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_volume(shape):
    """A uint16 image with texture and a uint16 label volume of blocks."""
    rng = np.random.default_rng(0)
    image = rng.integers(100, 4000, size=shape, dtype=np.uint16)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    labels = ((z // 20) * 256 + (y // 64) * 16 + (x // 64) + 1).astype(np.uint16)
    labels = np.broadcast_to(labels, shape).copy()
    labels[:, ::64, :] = 0
    return image, labels


def plexus_app(image, labels):
    from app.slice_browser import SliceBrowser
    from app.workspace import Workspace

    ws = Workspace()
    ws.set_volumes(image=image, labels={"nodes": labels}, spacing=(1.0, 0.5, 0.5))
    return SliceBrowser(workspace=ws, display_size=512).panel(height=600)


def holoviews_app(image, labels):
    import colorcet
    import holoviews as hv
    import panel as pn

    hv.extension("bokeh")
    nz = image.shape[0]
    bounds = (0, 0, image.shape[2], image.shape[1])

    def plane(z):
        base = hv.Image(image[z], bounds=bounds).opts(cmap="gray", width=600, height=600,
                                                      backend_opts={"plot.output_backend": "canvas"})
        over = hv.Image(labels[z], bounds=bounds).opts(cmap=colorcet.b_glasbey_bw_minc_20,
                                                       alpha=0.45, clipping_colors={"min": "transparent"})
        return base * over

    slider = pn.widgets.IntSlider(name="plane", start=0, end=nz - 1, value=nz // 2)
    dmap = hv.DynamicMap(pn.bind(plane, slider))
    return pn.Column(pn.pane.HoloViews(dmap), slider)


def measure_steps(page, url, steps):
    page.goto(url)
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0", timeout=60_000)
    page.locator("canvas").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.evaluate(HOOK)
    handle = page.locator(".noUi-handle").first
    handle.focus()
    times = []
    for _ in range(steps):
        before = page.evaluate("window.__drawn")
        handle.press("ArrowRight")
        page.wait_for_function(f"() => window.__drawn > {before}", timeout=30_000)
        times.append(page.evaluate("window.__drawn - window.__pressed"))
        page.wait_for_timeout(50)
    return times


def measure_first_render(browser, port):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "plexus"), "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=True, text=True,
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.5)
        times = []
        for _ in range(3):
            page = browser.new_page(viewport={"width": 1600, "height": 1200})
            start = time.perf_counter()
            page.goto(f"http://127.0.0.1:{port}/network_explorer")
            page.get_by_text("Plexus network explorer").first.wait_for(timeout=120_000)
            for axis in "zyx":
                page.locator(f".plexus-slice-{axis} canvas").first.wait_for(timeout=120_000)
            page.locator(".tabulator-row").first.wait_for(timeout=120_000)
            page.locator("canvas").nth(5).wait_for(timeout=120_000)  # + graph, histograms
            page.locator(".plexus-view3d iframe, .plexus-view3d canvas, "
                         ".plexus-view3d img").first.wait_for(timeout=120_000)
            times.append(time.perf_counter() - start)
            page.close()
        return times
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(10)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", default="300,1024,1024", help="volume shape z,y,x")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--skip-first-render", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    import panel as pn
    from playwright.sync_api import sync_playwright

    shape = tuple(int(v) for v in args.shape.split(","))
    image, labels = make_volume(shape)
    print(f"volume {shape} uint16: {image.nbytes / 1e6:.0f} MB (+ labels {labels.nbytes / 1e6:.0f} MB)")
    port_a, port_b = free_port(), free_port()
    servers = [
        pn.serve(plexus_app(image, labels), port=port_a, address="127.0.0.1", threaded=True,
                 show=False, websocket_origin=[f"127.0.0.1:{port_a}"]),
        pn.serve(holoviews_app(image, labels), port=port_b, address="127.0.0.1", threaded=True,
                 show=False, websocket_origin=[f"127.0.0.1:{port_b}"]),
    ]
    results = {"shape": shape, "image_mb": image.nbytes / 1e6}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for name, port in (("plexus", port_a), ("holoviews_full_res", port_b)):
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            times = measure_steps(page, f"http://127.0.0.1:{port}/", args.steps)
            page.close()
            results[name] = {"median_ms": statistics.median(times),
                             "p90_ms": float(np.percentile(times, 90)), "steps": times}
        if not args.skip_first_render:
            results["first_render_s"] = measure_first_render(browser, free_port())
        browser.close()
    for server in servers:
        server.stop()

    ours, peer = results["plexus"], results["holoviews_full_res"]
    print(f"{'slice step':<28}{'median ms':>10}{'p90 ms':>10}")
    for name in ("plexus", "holoviews_full_res"):
        print(f"{name:<28}{results[name]['median_ms']:>10.1f}{results[name]['p90_ms']:>10.1f}")
    print(f"speed-up over the HoloViews full-resolution peer: "
          f"{peer['median_ms'] / ours['median_ms']:.1f}x (goal: under 100 ms: "
          f"{'met' if ours['median_ms'] < 100 else 'missed'})")
    if "first_render_s" in results:
        first = results["first_render_s"]
        print(f"explorer first render: {', '.join(f'{t:.2f}' for t in first)} s "
              f"(first visit, then later ones; goal under 5 s)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "dashboard_latency.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
