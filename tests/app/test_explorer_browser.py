"""The network explorer in a real headless Chromium, served two ways.

Once by `plexus serve` (the real command line) and once by Voila with the
Plexus template, each on the embedded frog demo. The page must load with no console error and nothing requested
off this machine; the slice slider must change the picture; selecting a
node in the table must highlight it in the network view and move the
slice view to it; the 3D pane (or its fallback image) must not be blank.
Screenshots go to ``tests/artifacts/``.
"""

import io

import numpy as np
import pytest
from browser import (  # noqa: F401
    PageWatch,
    chromium,
    plexus_server,
    screenshot,
    start_voila,
)

from app.explorer import demo_inputs
from app.serve import dashboards_dir

pytest.importorskip("playwright")
pytestmark = pytest.mark.slow

# Reads which node the network view's data source draws as selected.
NETWORK_SELECTED = """() => {
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.data && m.data.selected && m.data.label && m.data.degree) {
        const i = Array.from(m.data.selected).findIndex(v => v);
        return i < 0 ? null : String(m.data.label[i]);
      }
  return 'no network source';
}"""


@pytest.fixture(scope="module")
def served(plexus_server):  # noqa: F811
    return plexus_server + "network_explorer"


@pytest.fixture(scope="module")
def voila():
    with start_voila(dashboards_dir() / "network_explorer.ipynb", timeout=120) as server:
        yield server.url


@pytest.fixture(scope="module", params=["serve", "voila"])
def page(request, chromium):  # noqa: F811
    url = request.getfixturevalue("served" if request.param == "serve" else "voila")
    page = chromium.new_page(viewport={"width": 1600, "height": 1300})
    watch = PageWatch(page)
    page.goto(url, timeout=180_000)
    page.get_by_text("Plexus network explorer").first.wait_for(timeout=180_000)
    page.locator(".plexus-slice canvas").first.wait_for(timeout=60_000)
    page.locator(".tabulator-row").first.wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.watch = watch
    page.kind = request.param
    yield page
    screenshot(page, f"explorer_{request.param}_final")
    page.close()


def _pixels(locator):
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(locator.screenshot())).convert("RGB")).astype(int)


def _wait_title(page, text):
    """Wait until the main slice view's title shows ``text``."""
    page.locator(".plexus-slice-title", has_text=text).first.wait_for(timeout=20_000)


def test_page_loads_clean_and_shows_the_demo(page):
    screenshot(page, f"explorer_{page.kind}_loaded")
    page.watch.check()
    assert page.get_by_text("Frog tissues").first.is_visible()
    _wait_title(page, "z = 68 of 135")


def test_slider_moves_the_slice_and_the_picture_changes(page):
    view = page.locator(".plexus-slice-z").first
    before = _pixels(view)
    handle = page.locator(".plexus-plane-slider .noUi-handle").first
    handle.focus()
    for _ in range(10):
        handle.press("ArrowRight")
    _wait_title(page, "z = 78 of 135")
    page.wait_for_timeout(500)
    after = _pixels(view)
    assert before.shape == after.shape
    changed = np.abs(before - after).sum(axis=2) > 30
    assert changed.mean() > 0.005, "the slice picture did not change"
    page.watch.check()


def test_table_selection_highlights_the_node_and_moves_the_slice(page):
    nodes, _, spacing, names = demo_inputs()
    brain = 2
    assert names[brain] == "brain"
    zc = int(np.rint(np.argwhere(nodes == brain)[:, 0].mean()))
    row = page.locator(".tabulator-row", has_text="brain").first
    row.locator(".tabulator-cell").nth(1).click()
    _wait_title(page, f"z = {zc} of 135")
    _wait_title(page, "selected brain")
    page.wait_for_function(f"() => ({NETWORK_SELECTED})() === '{brain}'", timeout=20_000)
    screenshot(page, f"explorer_{page.kind}_brain_selected")
    page.watch.check()


def test_3d_view_is_not_blank(page):
    pane = page.locator(".plexus-view3d iframe, .plexus-view3d canvas, "
                        ".plexus-view3d img").first
    pane.wait_for(timeout=60_000)
    pane.scroll_into_view_if_needed()
    page.wait_for_timeout(4000)  # the server-rendered view sends its first frame
    pixels = _pixels(pane)
    screenshot(page, f"explorer_{page.kind}_3d")
    colours = np.unique(pixels.reshape(-1, 3) // 16, axis=0)
    assert len(colours) > 20, "the 3D pane shows (almost) one colour"
    assert pixels.std() > 10


def test_branches_button_shows_the_branch_table(page):
    page.get_by_role("button", name="Measure branches").click()
    rows = page.locator(".plexus-branch-tables .tabulator-row", has_text="junction-end")
    rows.first.wait_for(timeout=60_000)
    page.locator(".plexus-branch-network canvas").first.wait_for(timeout=20_000)
    screenshot(page, f"explorer_{page.kind}_branches")
    page.watch.check()
