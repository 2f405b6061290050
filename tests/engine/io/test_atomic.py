"""atomic_write: a saved file is whole or untouched, never half-written."""

import os
import sys

import numpy as np
import pytest

from engine import InvalidInputError
from engine._errors import MissingFileError
from engine.io import atomic_write, write_tif


def leftovers(folder):
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_writes_new_file(tmp_path):
    target = tmp_path / "a.bin"
    with atomic_write(target) as fh:
        fh.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert leftovers(tmp_path) == []


def test_text_mode_is_utf8(tmp_path):
    target = tmp_path / "a.txt"
    with atomic_write(target, "w") as fh:
        fh.write("µm")
    assert target.read_bytes() == "µm".encode("utf-8")


def test_failure_keeps_the_old_file_and_removes_the_temporary(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("original")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as fh:
            fh.write("half")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "original"
    assert leftovers(tmp_path) == []


def test_failure_on_new_file_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_write(tmp_path / "new.bin") as fh:
            fh.write(b"x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_bad_mode(tmp_path):
    with pytest.raises(MissingFileError, match="does not exist"):
        with atomic_write(tmp_path / "nope" / "a.bin"):
            pass
    with pytest.raises(InvalidInputError, match="mode"):
        with atomic_write(tmp_path / "a.bin", "ab"):
            pass
    with pytest.raises(InvalidInputError, match="folder"):
        with atomic_write(tmp_path, "wb"):
            pass


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_permissions_follow_umask_and_old_file(tmp_path):
    fresh = tmp_path / "fresh.txt"
    with atomic_write(fresh, "w") as fh:
        fh.write("x")
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert fresh.stat().st_mode == plain.stat().st_mode
    plain.chmod(0o600)
    with atomic_write(plain, "w") as fh:
        fh.write("y")
    assert plain.stat().st_mode & 0o777 == 0o600


def test_symlink_target_is_replaced_not_the_link(tmp_path):
    real = tmp_path / "real.txt"
    real.write_text("old")
    link = tmp_path / "link.txt"
    try:
        os.symlink(real, link)
    except OSError:
        pytest.skip("symlinks not available")
    with atomic_write(link, "w") as fh:
        fh.write("new")
    assert link.is_symlink() and real.read_text() == "new"


def test_a_writer_that_crashes_leaves_the_old_tif(tmp_path, monkeypatch):
    import tifffile

    target = tmp_path / "labels.tif"
    write_tif(target, np.ones((2, 4, 4), np.uint8))
    before = target.read_bytes()

    def crash(fh, *args, **kwargs):
        fh.write(b"II*\x00 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(tifffile, "imwrite", crash)
    with pytest.raises(OSError, match="disk full"):
        write_tif(target, np.zeros((2, 4, 4), np.uint8))
    assert target.read_bytes() == before
    assert leftovers(tmp_path) == []
