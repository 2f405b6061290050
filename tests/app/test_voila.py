"""Voila with the Plexus template: the bundle, the command line, and a real page.

The slow tests serve ``notebooks/voila_smoke.ipynb`` and drive it in headless
Chromium: it must render with no errors, talk to its kernel both ways (slider,
table selection) and request nothing from outside this machine. The same
notebook also runs under nbclient and ``panel serve``, as the dashboards must.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from browser import PageWatch, chromium, free_port, screenshot, start_voila, stop_group  # noqa: F401

from app.voila import (
    BUNDLE_JS,
    BUNDLE_STAMP,
    TEMPLATE_NAME,
    build_bundle,
    bundle_versions,
    detect_context,
    voila_args,
)

pytest.importorskip("voila")  # the dashboards extra
pytest.importorskip("jupyter_bokeh")

NOTEBOOK = Path(__file__).parent / "notebooks" / "voila_smoke.ipynb"


def test_voila_args_serve_this_machine_with_the_template():
    args = voila_args("dash.ipynb", 9000)
    assert args[:4] == [sys.executable, "-m", "voila", "dash.ipynb"]
    assert f"--template={TEMPLATE_NAME}" in args
    assert {"--port=9000", "--Voila.ip=127.0.0.1", "--no-browser"} <= set(args)
    assert voila_args("d.ipynb", 1, extra=["--debug"])[-1] == "--debug"


def test_context_outside_a_kernel_and_override(monkeypatch):
    monkeypatch.delenv("PLEXUS_NOTEBOOK_CONTEXT", raising=False)
    assert detect_context() == "python"
    monkeypatch.setenv("PLEXUS_NOTEBOOK_CONTEXT", "voila")
    assert detect_context() == "voila"
    monkeypatch.setenv("PLEXUS_NOTEBOOK_CONTEXT", "lab")
    with pytest.raises(ValueError, match="was 'lab'"):
        detect_context()


def test_bundle_is_rebuilt_only_when_versions_change(tmp_path):
    js = build_bundle(tmp_path)
    assert js == tmp_path / BUNDLE_JS
    text = js.read_text(encoding="utf-8")
    for library in ("bokeh.min.js", "bokeh-tables.min.js", "panel.min.js",
                    "es-module-shims", "Tabulator v", "vtk.js"):
        assert library in text, library
    stamp = json.loads((tmp_path / BUNDLE_STAMP).read_text(encoding="utf-8"))
    assert stamp == bundle_versions()
    built, parts = js.stat().st_mtime_ns, text.count("//# sourceURL=")
    assert build_bundle(tmp_path) == js and js.stat().st_mtime_ns == built
    # A notebook asking for one more extension: rebuilt with it, and it stays.
    build_bundle(tmp_path, extensions=["katex"])
    assert js.read_text(encoding="utf-8").count("//# sourceURL=") > parts
    with_katex = js.stat().st_mtime_ns
    build_bundle(tmp_path)
    assert js.stat().st_mtime_ns == with_katex
    # Another Panel version: rebuilt for the extensions asked for now.
    stamp = json.loads((tmp_path / BUNDLE_STAMP).read_text(encoding="utf-8"))
    (tmp_path / BUNDLE_STAMP).write_text(json.dumps({**stamp, "panel": "0.0"}))
    build_bundle(tmp_path)
    assert js.read_text(encoding="utf-8").count("//# sourceURL=") == parts
    assert json.loads((tmp_path / BUNDLE_STAMP).read_text()) == bundle_versions()


def _wait_text(page, text, timeout_s):
    page.get_by_text(text, exact=True).wait_for(timeout=timeout_s * 1000)


def _slider_step(page, before, after):
    """Press ArrowRight on the slider; return seconds until ``after`` shows."""
    _wait_text(page, before, 30)
    page.locator(".noUi-handle").first.focus()
    start = time.perf_counter()
    page.keyboard.press("ArrowRight")
    _wait_text(page, after, 15)
    return time.perf_counter() - start


@pytest.mark.slow
def test_smoke_notebook_in_voila(chromium):  # noqa: F811
    with start_voila(NOTEBOOK) as server:
        page = chromium.new_page(viewport={"width": 1000, "height": 1400})
        watch = PageWatch(page)
        start = time.perf_counter()
        page.goto(server.url, timeout=120_000)
        _wait_text(page, "value: 0", 90)
        render_s = time.perf_counter() - start
        _wait_text(page, "context: voila", 10)
        _wait_text(page, "hello from a JSComponent", 10)
        page.locator("mjx-container").first.wait_for(timeout=10_000)  # Voila's own MathJax 3
        # Bokeh draws the curve and vtk.js the scene in canvases.
        page.locator(".bk-Canvas canvas").first.wait_for(timeout=10_000)
        page.locator("div[class*='vtk'] canvas").first.wait_for(timeout=10_000)

        # Browser -> kernel -> browser: pn.bind recomputes the text in the kernel.
        slider_s = _slider_step(page, "value: 0", "value: 1")

        # A click on an editable cell opens its editor (and restyles the table:
        # no CDN there either); one on the index cell selects the row. The
        # first cell of a row is Tabulator's hidden _index: click visible ones.
        row = page.locator(".tabulator-row", has_text="beta").first
        row.locator(".tabulator-cell", has_text="beta").click()
        page.keyboard.press("Escape")
        row.locator(".tabulator-cell[tabulator-field='index']").click()
        _wait_text(page, "selected: [1]", 15)

        screenshot(page, "voila_smoke")
        body = page.locator("body").inner_text()
        assert "Traceback" not in body, body
        stderr = page.locator("[data-mime-type='application/vnd.jupyter.stderr']")
        assert stderr.count() == 0, stderr.all_inner_texts()
        watch.check()
        assert any(url.endswith(f"/voila/templates/{TEMPLATE_NAME}/static/{BUNDLE_JS}")
                   for url in watch.requests)
        page.close()
    print(f"\nVoila smoke: rendered in {render_s:.1f} s, slider round trip {slider_s:.2f} s")


@pytest.mark.slow
def test_smoke_notebook_runs_in_nbclient():
    import nbclient
    import nbformat

    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    outputs = [out for cell in notebook.cells for out in cell.get("outputs", [])]
    assert not [out for out in outputs if out.output_type == "error"]
    assert "context: jupyter" in json.dumps(outputs)  # plain pn.extension path


@pytest.mark.slow
def test_smoke_notebook_in_panel_serve(chromium):  # noqa: F811
    port = free_port()
    args = [sys.executable, "-m", "panel", "serve", str(NOTEBOOK), f"--port={port}",
            "--address=127.0.0.1", f"--allow-websocket-origin=127.0.0.1:{port}"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        page = chromium.new_page()
        watch = PageWatch(page)
        url = f"http://127.0.0.1:{port}/{NOTEBOOK.stem}"
        for _ in range(100):  # until the server listens
            try:
                page.goto(url, timeout=60_000)
                break
            except Exception:  # noqa: BLE001  (connection refused while starting)
                time.sleep(0.2)
        _wait_text(page, "context: server", 60)
        _slider_step(page, "value: 0", "value: 1")
        # Not watch.check(): the page template panel serve uses for a notebook
        # links the Lato font from Google Fonts, a console error offline.
        assert not [e for e in watch.errors if e.startswith("pageerror")], watch.errors
        page.close()
    finally:
        stop_group(process)
