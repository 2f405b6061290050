"""`plexus serve`: the panel serve command it runs, and its errors."""

import sys

import pytest

from app import cli
from app.serve import dashboard_notebooks, serve_command
from engine import InvalidInputError


def test_serves_every_dashboard_on_localhost_by_default():
    command = serve_command(port=5123)
    assert command[:4] == [sys.executable, "-m", "panel", "serve"]
    notebooks = [c for c in command if c.endswith(".ipynb")]
    assert notebooks == [str(p) for p in dashboard_notebooks()]
    assert any(n.endswith("dashboards/network_explorer.ipynb") for n in notebooks)
    assert command[command.index("--address") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5123"
    origins = [command[i + 1] for i, c in enumerate(command) if c == "--allow-websocket-origin"]
    assert "127.0.0.1:5123" in origins and "*" not in origins
    assert command[command.index("--setup") + 1].endswith("_serve_setup.py")


def test_bad_arguments_are_named(tmp_path, capsys):
    with pytest.raises(InvalidInputError, match="--port must be between"):
        serve_command(port=70000)
    with pytest.raises(InvalidInputError, match="no dashboard notebooks"):
        dashboard_notebooks(tmp_path)
    assert cli.main(["serve", "--dashboards", str(tmp_path / "nope")]) == 2
    assert "dashboards folder" in capsys.readouterr().err
