"""Run long engine steps in the background, with progress and cancel.

The engine reports progress through a ``progress(done, total)`` callback;
the :class:`Runner` passes one that records the fraction and raises
:class:`Cancelled` once the user pressed Cancel, so a step stops at its
next progress report. The page never blocks: the step runs in a thread
and its result is handed back on the page's own event loop.

>>> runner = Runner()
>>> def count(n, progress=None):
...     for i in range(n):
...         progress(i + 1, n)
...     return n
>>> runner.run("counting", count, 4, on_done=lambda result: None)
>>> runner.wait()
>>> runner.status, runner.progress
('counting: done', 100)
"""

import logging
import threading
import time

import panel as pn
import param

from engine import MissingExtraError, PlexusError

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """Raised inside a running step when the user cancels it."""


def user_message(step, error):
    """A message a user can act on, never a stack trace.

    >>> user_message("building the network", MemoryError())
    'building the network needs more memory than this machine has: try a smaller volume or a smaller search radius.'
    """
    if isinstance(error, (PlexusError, MissingExtraError)):
        return f"{step}: {error}"
    if isinstance(error, MemoryError):
        return (f"{step} needs more memory than this machine has: "
                "try a smaller volume or a smaller search radius.")
    if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
        return f"{step}: {error.strerror or error}: {error.filename}"
    return (f"{step} failed unexpectedly ({type(error).__name__}: {error}). "
            "The details are in the server log.")


class Runner(param.Parameterized):
    """One background step at a time, with progress, cancel and errors.

    Parameters
    ----------
    running : bool
    progress : int
        Percent done, or -1 while the total is unknown.
    status : str
        What is happening, for the page.
    error : str
        The last failure as a user-facing message ("" when none).
    """

    running = param.Boolean(default=False)
    progress = param.Integer(default=0, bounds=(-1, 100))
    status = param.String(default="")
    error = param.String(default="")
    elapsed = param.Number(default=0.0)

    def __init__(self, **params):
        super().__init__(**params)
        self._cancel = threading.Event()
        self._thread = None

    def run(self, step, func, *args, on_done=None, **kwargs):
        """Start ``func(*args, progress=..., **kwargs)`` in a thread.

        ``on_done(result)`` runs afterwards on the page's event loop (where
        it may update views). Returns at once; ignored while a step runs.
        """
        if self.running:
            self.status = f"{self.status} (busy: wait or cancel first)"
            return
        self._cancel.clear()
        self.param.update(running=True, progress=-1, error="", status=f"{step}…")
        doc = pn.state.curdoc
        self._thread = threading.Thread(
            target=self._work, args=(step, func, args, kwargs, on_done, doc),
            name=f"plexus-{step}", daemon=True,
        )
        self._thread.start()

    def cancel(self):
        """Ask the running step to stop at its next progress report."""
        if self.running:
            self._cancel.set()
            self.status = f"{self.status.rstrip('…')}: cancelling…"

    def wait(self, timeout=None):
        """Block until the running step ends (for scripts and tests)."""
        if self._thread is not None:
            self._thread.join(timeout)

    def _report(self, done, total):
        if self._cancel.is_set():
            raise Cancelled()
        self.progress = int(100 * done / total) if total else -1

    def _work(self, step, func, args, kwargs, on_done, doc):
        start = time.perf_counter()
        try:
            result = func(*args, progress=self._report, **kwargs)
            if self._cancel.is_set():
                raise Cancelled()
        except Cancelled:
            self._finish(doc, status=f"{step}: cancelled", progress=0)
            return
        except Exception as error:  # every failure becomes a message on the page
            log.exception("%s failed", step)
            self._finish(doc, status=f"{step}: failed", error=user_message(step, error))
            return
        elapsed = time.perf_counter() - start

        def done():
            try:
                if on_done is not None:
                    on_done(result)
            except Exception as error:
                log.exception("showing the result of %s failed", step)
                self.param.update(running=False, status=f"{step}: failed",
                                  error=user_message(step, error))
                return
            self.param.update(running=False, progress=100, elapsed=elapsed,
                              status=f"{step}: done")

        self._schedule(doc, done)

    def _finish(self, doc, **values):
        self._schedule(doc, lambda: self.param.update(running=False, **values))

    @staticmethod
    def _schedule(doc, callback):
        # Bokeh models may only change on their document's event loop.
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(callback)
        else:
            callback()

    def panel(self):
        """Progress bar, status line, cancel button and error message."""
        bar = pn.indicators.Progress(value=self.param.progress, max=100, width=220,
                                     visible=self.param.running, bar_color="primary")
        cancel = pn.widgets.Button(name="Cancel", button_type="warning",
                                   visible=self.param.running, width=90)
        cancel.on_click(lambda _: self.cancel())
        status = pn.pane.Str(self.param.status, margin=(8, 10))
        alert = pn.pane.Alert(self.param.error, alert_type="danger",
                              visible=pn.bind(bool, self.param.error))
        return pn.Column(pn.Row(bar, cancel, status), alert, sizing_mode="stretch_width")
