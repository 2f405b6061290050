"""Hand a label volume from one dashboard page to another.

The segmentation page makes labels; the network explorer wants them as
nodes or edges. A page calls :func:`put` and gets a short random token;
the other page opens with ``?nodes=TOKEN`` (or ``?edges=TOKEN``) in its
address and calls :func:`get`.

Volumes are kept in this process (``plexus serve`` runs every dashboard
in one process, so the hand-off costs nothing) and also written as a tif
into a per-user temporary folder, so a page served by another process
(Voila starts one kernel per page) can read them too. Only the latest
:data:`KEEP` hand-offs are kept, in memory and on disk.

>>> import numpy as np
>>> token = put(np.ones((2, 3, 4), np.uint32), spacing=(2.0, 1.0, 1.0), title="demo")
>>> got = get(token)
>>> got.labels.shape, got.spacing, got.title
((2, 3, 4), (2.0, 1.0, 1.0), 'demo')
"""

import collections
import getpass
import json
import os
import re
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine import InvalidInputError

#: How many hand-offs are kept (the oldest are dropped first).
KEEP = 8
_TOKEN = re.compile(r"^[0-9a-f]{16}$")  # what put() makes; anything else never reaches a path
_lock = threading.Lock()
_memory = collections.OrderedDict()


@dataclass(frozen=True)
class Handoff:
    """What one page handed over.

    Attributes
    ----------
    labels : ndarray (z, y, x) of unsigned integers, read-only
    spacing : tuple (dz, dy, dx)
    image : ndarray or None
        The intensity volume the labels were made from (display only).
    title : str
    """

    labels: np.ndarray
    spacing: tuple
    image: np.ndarray = None
    title: str = ""


def folder():
    """Where hand-offs are written: ``$TMPDIR/plexus-handoff-<user>``."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"plexus-handoff-{re.sub(r'[^A-Za-z0-9_-]', '_', user)}"


def put(labels, *, spacing, image=None, title=""):
    """Keep a label volume for another page; return its token (str)."""
    from engine import io as eio

    labels = np.array(labels, copy=True)  # the sender may go on editing its own
    labels.setflags(write=False)
    if image is not None:
        image = np.asarray(image)
    spacing = tuple(float(s) for s in spacing)
    token = secrets.token_hex(8)
    handoff = Handoff(labels=labels, spacing=spacing, image=image, title=title)
    directory = folder()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    eio.write_tif(directory / f"{token}-labels.tif", labels, spacing=spacing)
    if image is not None:
        eio.write_tif(directory / f"{token}-image.tif", image, spacing=spacing)
    eio.write_json({"title": title}, directory / f"{token}.json")
    with _lock:
        _memory[token] = handoff
        while len(_memory) > KEEP:
            _memory.popitem(last=False)
    _prune(directory)
    return token


def get(token):
    """The :class:`Handoff` of a token.

    Raises
    ------
    InvalidInputError
        If the token is malformed, unknown or expired.
    """
    token = str(token).strip()
    if not _TOKEN.match(token):
        raise InvalidInputError(f"{token!r} is not a hand-off token (16 hex digits)")
    with _lock:
        if token in _memory:
            return _memory[token]
    return _read(token)


def _read(token):
    from engine import io as eio

    directory = folder()
    path = directory / f"{token}-labels.tif"
    if not path.exists():
        raise InvalidInputError(
            f"hand-off {token} is unknown or expired (only the latest {KEEP} are kept): "
            "send the labels again from the segmentation page"
        )
    labels, spacing = eio.read_tif(path)
    labels.setflags(write=False)
    image = None
    if (directory / f"{token}-image.tif").exists():
        image, _ = eio.read_tif(directory / f"{token}-image.tif")
    title = ""
    meta = directory / f"{token}.json"
    if meta.exists():
        title = json.loads(meta.read_text(encoding="utf-8")).get("title", "")
    return Handoff(labels=labels, spacing=tuple(spacing), image=image, title=title)


def _prune(directory):
    """Delete the files of all but the latest :data:`KEEP` hand-offs."""
    def modified(path):
        try:
            return path.stat().st_mtime
        except OSError:  # another process pruned it meanwhile
            return 0.0

    stamps = sorted(directory.glob("*-labels.tif"), key=modified)
    for old in stamps[:-KEEP]:
        token = old.name.split("-", 1)[0]
        for path in directory.glob(f"{token}*"):
            try:
                path.unlink()
            except OSError:  # another process pruned it first
                pass
