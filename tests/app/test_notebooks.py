"""Every dashboard notebook runs top to bottom in a fresh kernel (nbclient)."""

import nbformat
import pytest
from nbclient import NotebookClient

from app.serve import dashboard_notebooks


@pytest.mark.slow
@pytest.mark.parametrize("path", dashboard_notebooks(), ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path):
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [out for cell in notebook.cells if cell.cell_type == "code"
              for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors, errors
    last = notebook.cells[-1]
    # The last cell displays the dashboard (a Panel layout), not nothing.
    assert last.outputs and any("data" in out for out in last.outputs)
