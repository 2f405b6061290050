"""``plexus serve``: every dashboard notebook under ``panel serve``.

The server listens on 127.0.0.1 unless told otherwise (the dashboards
read and write files on the server, so exposing them is a choice). The
demo network is computed once at start-up (``--setup``), so the first
visitor does not wait for it.
"""

import os
import sys
from pathlib import Path

from engine import InvalidInputError, MissingExtraError

DEFAULT_PORT = 5006
DEFAULT_ADDRESS = "127.0.0.1"
_WARM_UP = Path(__file__).with_name("_serve_setup.py")


def dashboards_dir():
    """The ``dashboards/`` folder next to the ``app`` package."""
    return Path(__file__).resolve().parent.parent / "dashboards"


def dashboard_notebooks(directory=None):
    """Sorted notebooks of a dashboards folder.

    Raises
    ------
    InvalidInputError
        If the folder does not exist or holds no notebook.
    """
    directory = Path(directory) if directory is not None else dashboards_dir()
    if not directory.is_dir():
        raise InvalidInputError(f"dashboards folder {directory} does not exist")
    notebooks = sorted(p for p in directory.glob("*.ipynb") if not p.name.startswith("."))
    if not notebooks:
        raise InvalidInputError(f"no dashboard notebooks (*.ipynb) in {directory}")
    return notebooks


def serve_command(*, port=DEFAULT_PORT, address=DEFAULT_ADDRESS, directory=None,
                  show=False, warm=True):
    """The ``panel serve`` command line for the dashboards (a list of str)."""
    if not 0 < int(port) < 65536:
        raise InvalidInputError(f"--port must be between 1 and 65535, got {port}")
    import importlib.util

    if importlib.util.find_spec("panel") is None:
        raise MissingExtraError(
            "serving the dashboards needs panel; install it with "
            "`pip install 'plexus3d[dashboards]'`"
        )
    notebooks = dashboard_notebooks(directory)
    origins = {f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"}
    if address in ("0.0.0.0", "::"):
        origins = {"*"}
    command = [sys.executable, "-m", "panel", "serve", *map(str, notebooks),
               "--address", address, "--port", str(port)]
    for origin in sorted(origins):
        command += ["--allow-websocket-origin", origin]
    if warm:
        command += ["--setup", str(_WARM_UP)]
    if show:
        command.append("--show")
    return command


def serve(*, port=DEFAULT_PORT, address=DEFAULT_ADDRESS, directory=None, show=False):
    """Replace this process by ``panel serve`` on the dashboards."""
    command = serve_command(port=port, address=address, directory=directory, show=show)
    names = ", ".join(Path(c).stem for c in command if c.endswith(".ipynb"))
    print(f"Plexus dashboards ({names}) at http://{address}:{port}/ — Ctrl+C to stop",
          flush=True)
    os.execv(command[0], command)
