"""The background runner: progress, cancel, errors a user can read."""

import threading

import numpy as np
from phantoms import make_phantom

from app.runner import Runner, user_message
from engine import InvalidInputError, network


def test_result_reaches_on_done_with_progress():
    runner = Runner()
    seen, results = [], []

    def work(n, progress=None):
        for i in range(n):
            progress(i + 1, n)
            seen.append(runner.progress)
        return n * 2

    runner.run("doubling", work, 5, on_done=results.append)
    runner.wait(10)
    assert results == [10]
    assert seen == [20, 40, 60, 80, 100]
    assert (runner.running, runner.status, runner.error) == (False, "doubling: done", "")


def test_cancel_stops_a_real_network_build_at_the_next_report():
    phantom = make_phantom((48, 64, 64), 12, seed=3)
    runner = Runner()
    started, release = threading.Event(), threading.Event()
    reports = []

    def slow_connect(progress=None, **kwargs):
        def report(done, total):
            reports.append(done)
            started.set()
            release.wait(10)
            progress(done, total)
        return network.connect(progress=report, **kwargs)

    results = []
    runner.run("building", slow_connect, on_done=results.append, nodes=phantom.nodes,
               edges=phantom.edges, search=phantom.search, spacing=phantom.spacing, workers=1)
    assert started.wait(10)
    runner.cancel()
    release.set()
    runner.wait(10)
    assert results == []
    assert runner.status == "building: cancelled" and not runner.running
    assert len(reports) == 1  # stopped at the first report, not after every node


def test_errors_become_messages_not_tracebacks():
    runner = Runner()

    def bad(progress=None):
        raise InvalidInputError("nodes /data/x.tif is not a label volume")

    runner.run("reading", bad)
    runner.wait(10)
    assert runner.error == "reading: nodes /data/x.tif is not a label volume"
    assert "Traceback" not in runner.error and not runner.running

    def crash(progress=None):
        return np.zeros(3)[7]

    runner.run("measuring", crash)
    runner.wait(10)
    assert runner.error.startswith("measuring failed unexpectedly (IndexError")
    assert "server log" in runner.error


def test_a_second_step_waits_for_the_first():
    runner = Runner()
    gate = threading.Event()
    runner.run("first", lambda progress=None: gate.wait(10))
    runner.run("second", lambda progress=None: 1 / 0)
    assert "busy" in runner.status
    gate.set()
    runner.wait(10)
    assert runner.error == "" and runner.status == "first: done"


def test_user_messages():
    err = FileNotFoundError(2, "No such file or directory", "/data/nodes.tif")
    assert user_message("reading", err) == "reading: No such file or directory: /data/nodes.tif"
