"""``import engine`` stays light: heavy libraries load only when used."""

import subprocess
import sys

HEAVY = ("pandas", "networkx", "scipy", "skimage", "tifffile", "cc3d", "panel", "pyvista")


def test_import_engine_loads_no_heavy_library():
    code = (
        "import sys, engine; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_engine_never_imports_ui_libraries():
    code = (
        "import sys, engine.network, engine.io, engine.label, engine.datasets; "
        "print(','.join(m for m in ('panel', 'holoviews', 'bokeh', 'pyvista', 'ipywidgets') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
