"""Browser-test helpers: a headless Chromium, a Voila server, a page watcher.

Shared by the Voila smoke test and the dashboards' browser tests. Use the
fixtures by importing them into a test module (``tests/app`` is on the path
while pytest imports its tests)::

    from browser import PageWatch, chromium, start_voila  # noqa: F401

    @pytest.fixture(scope="module")
    def server():
        with start_voila(DASHBOARDS / "explorer.ipynb") as server:
            yield server

    def test_explorer(server, chromium):
        page = chromium.new_page()
        watch = PageWatch(page)
        page.goto(server.url)
        ...
        watch.check()  # no page or console errors, no request off this machine

Voila executes the notebook on each page load (a new kernel each time), so
load a page once per module where the tests allow it.
"""

import os
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def launch_chromium(playwright):
    """Launch the system's headless Chromium through a Playwright instance.

    Parameters
    ----------
    playwright : playwright.sync_api.Playwright

    Returns
    -------
    playwright.sync_api.Browser
    """
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


_SHARED = {}


@pytest.fixture(scope="session")
def chromium(request):
    """A headless Chromium for the whole session.

    Every test module imports this fixture, which makes one fixture per
    module; they all return the same browser, because Playwright's sync API
    allows only one instance per thread. It reuses pytest-playwright's
    ``playwright`` fixture where that plugin is installed, else starts its
    own and stops it when the process exits.
    """
    if "browser" not in _SHARED:
        try:
            playwright = request.getfixturevalue("playwright")
        except pytest.FixtureLookupError:
            import atexit

            sync_api = pytest.importorskip("playwright.sync_api")
            playwright = sync_api.sync_playwright().start()
            atexit.register(playwright.stop)
        browser = launch_chromium(playwright)
        _SHARED["browser"] = browser
    return _SHARED["browser"]


def free_port():
    """Return a TCP port free on 127.0.0.1 now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A server started by :func:`start_voila`."""

    url: str
    port: int
    process: subprocess.Popen
    log: Path

    def log_text(self):
        """What the server printed so far (for failure messages)."""
        return self.log.read_text(encoding="utf-8", errors="replace")


@contextmanager
def start_voila(notebook, *, port=None, timeout=60.0, log_dir=None, extra=()):
    """Serve ``notebook`` with Voila and the Plexus template; stop it on exit.

    Installs the template and its bundle first (:func:`app.voila.install`,
    cached), runs ``app.voila.voila_args`` on 127.0.0.1 in its own process
    group, waits until the port answers, and on exit kills the whole group
    (Voila and its kernels).

    Parameters
    ----------
    notebook : path-like
    port : int, optional
        Default: a free port.
    timeout : float
        Seconds to wait for the server to listen.
    log_dir : path-like, optional
        Where the server's output goes; default :data:`ARTIFACTS`.
    extra : sequence of str
        More Voila options.

    Yields
    ------
    Server
        ``url`` is the page's address; Voila executes the notebook when the
        page is first requested.
    """
    from app.voila import install, voila_args

    install()
    port = port or free_port()
    log_dir = Path(log_dir) if log_dir is not None else ARTIFACTS
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"voila-{Path(notebook).stem}.log"
    args = voila_args(Path(notebook).resolve(), port, show_tracebacks=True, extra=extra)
    with open(log, "w", encoding="utf-8") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=Path(notebook).resolve().parent,
                                   start_new_session=True)  # own group: kernels die with it
    server = Server(f"http://127.0.0.1:{port}/", port, process, log)
    try:
        _wait_for_port(server, timeout)
        yield server
    finally:
        stop_group(process)


def _wait_for_port(server, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"Voila exited with {server.process.returncode}:\n"
                               f"{server.log_text()}")
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"Voila did not listen on {server.port} in {timeout} s:\n"
                       f"{server.log_text()}")


@pytest.fixture(scope="session")
def plexus_server():
    """``plexus serve`` on a free port for the whole session; yields its base URL."""
    import sys
    import urllib.request

    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "plexus-serve.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                stop_group(process)
                pytest.fail(f"plexus serve did not start:\n{log.read_text()}")
            time.sleep(0.5)
    yield f"http://127.0.0.1:{port}/"
    stop_group(process)


def stop_group(process, timeout=10.0):
    """Terminate a process started with ``start_new_session=True`` and its group."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout)
        except ProcessLookupError:
            pass
    # Kernels may outlive a leader that exited by itself.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class PageWatch:
    """Record a page's errors and requests from the moment it is created.

    Parameters
    ----------
    page : playwright.sync_api.Page
    """

    def __init__(self, page):
        self.errors = []
        self.requests = []
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))
        page.on("console", self._console)
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message):
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def off_machine(self):
        """Requests to anything but this machine (``blob:``/``data:`` count as local)."""
        away = []
        for url in self.requests:
            parts = urlsplit(url)
            if parts.scheme in ("data", "about"):
                continue
            if parts.scheme == "blob":  # blob:http://127.0.0.1:PORT/uuid
                parts = urlsplit(parts.path)
            if parts.hostname not in LOCAL_HOSTS:
                away.append(url)
        return away

    def check(self):
        """Assert no page or console errors and no request left the machine."""
        assert not self.errors, "errors in the page:\n" + "\n".join(self.errors)
        away = self.off_machine()
        assert not away, "requests off this machine:\n" + "\n".join(away)


def screenshot(page, name):
    """Save a full-page screenshot as ``tests/artifacts/NAME.png``; return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path

