"""Cellpose 3D with the shipped model, checked against real ground truth.

The shipped model was trained on the x < 128 half of the nuclei volume
only (bench/train_shipped_cellpose.py); accuracy is measured on the unseen
x >= 128 half, after predicting on the whole volume.
"""

import numpy as np
import pytest

pytest.importorskip("cellpose")
torch = pytest.importorskip("torch")

from engine._errors import FileFormatError, InvalidInputError, MissingFileError  # noqa: E402
from engine.segment import (  # noqa: E402
    average_precision,
    segment_cellpose,
    shipped_model_path,
    train_cellpose,
    training_crops,
)
from engine.segment import _cellpose, _cellpose_net  # noqa: E402

SPLIT_X = 128


# Settings for nuclei, chosen on the seen half x < 128: a permissive cell
# probability, and fragments under a sixth of a nucleus merged back.
NUCLEI_SETTINGS = dict(cellprob_threshold=-2.0, min_volume=100.0)


@pytest.fixture(scope="module")
def shipped_prediction(nuclei):
    image, truth, spacing = nuclei
    torch.set_num_threads(2)
    calls = []
    pred = segment_cellpose(image, spacing=spacing, progress=lambda d, t: calls.append((d, t)),
                            **NUCLEI_SETTINGS)
    return pred, calls


def test_shipped_model_is_small_and_ours():
    path = shipped_model_path()
    assert path.is_file()
    assert path.stat().st_size <= 2_100_000
    assert _cellpose_net.model_kind(path) == "plexus"


def _unseen_ap(truth, pred):
    return average_precision(truth[..., SPLIT_X:], pred[..., SPLIT_X:], thresholds=(0.5, 0.75))


def test_shipped_model_reaches_target_on_unseen_half(nuclei, shipped_prediction):
    image, truth, _ = nuclei
    pred, calls = shipped_prediction
    assert pred.shape == image.shape and pred.dtype == np.uint32
    assert calls[0] == (0, 1) and calls[-1] == (1, 1)
    ap50, ap75 = _unseen_ap(truth, pred)
    # bench/segmentation.py measures 0.929 / 0.800 here; the one miss at 0.5
    # is a nucleus the ground truth leaves unlabelled (cut by the top edge)
    assert ap50 >= 0.9 and ap75 >= 0.75, (ap50, ap75)


def test_progress_can_cancel(nuclei):
    image, _, spacing = nuclei

    def cancel(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        segment_cellpose(image[:4, :64, :64], spacing=spacing, progress=cancel)


def test_anisotropy_from_spacing():
    assert _cellpose._anisotropy(None, (0.29, 0.26, 0.26)) == pytest.approx(0.29 / 0.26)
    assert _cellpose._anisotropy(None, (2.0, 0.5, 1.5)) == pytest.approx(2.0)
    assert _cellpose._anisotropy(None, None) == 1.0
    assert _cellpose._anisotropy(3.0, (1, 1, 1)) == 3.0
    with pytest.raises(InvalidInputError, match="anisotropy"):
        _cellpose._anisotropy(-1, None)
    with pytest.raises(InvalidInputError, match="spacing"):
        _cellpose._anisotropy(None, (1, 0, 1))


def test_anisotropy_reaches_cellpose(monkeypatch):
    seen = {}

    def fake_eval(model, image, *, return_cellprob, **kwargs):
        seen.update(kwargs)
        return np.zeros(image.shape[:3], np.int32), np.zeros(image.shape[:3])

    monkeypatch.setattr(_cellpose_net, "run_eval", fake_eval)
    segment_cellpose(np.zeros((5, 32, 32), np.float32), spacing=(1.0, 0.25, 0.25))
    assert seen["anisotropy"] == pytest.approx(4.0) and seen["do_3D"]


def test_axes_are_moved_like_cellpose(monkeypatch):
    seen = {}

    def fake_eval(model, image, *, return_cellprob, **kwargs):
        seen["shape"], seen["kwargs"] = image.shape, kwargs
        return np.ones(image.shape[:3], np.int32), np.zeros(image.shape[:3])

    monkeypatch.setattr(_cellpose_net, "run_eval", fake_eval)
    out = segment_cellpose(np.zeros((32, 2, 6, 40), np.float32), z_axis=2, channel_axis=1)
    assert seen["shape"] == (6, 32, 40, 2)
    assert seen["kwargs"]["channel_axis"] == 3 and seen["kwargs"]["z_axis"] == 0
    assert out.shape == (6, 32, 40) and out.dtype == np.uint32


@pytest.mark.parametrize(
    "shape, kwargs, match",
    [
        ((4, 2, 32, 32), {}, "channel_axis"),
        ((32, 32, 3), {}, "channel_axis"),
        ((4, 32, 32, 5), {"channel_axis": 3}, "channels"),
        ((4, 32, 32), {"z_axis": 5}, "z_axis"),
    ],
)
def test_bad_images(shape, kwargs, match):
    with pytest.raises(InvalidInputError, match=match):
        segment_cellpose(np.zeros(shape, np.float32), **kwargs)


def test_missing_model_file(tmp_path):
    missing = tmp_path / "nope.pt"
    with pytest.raises(MissingFileError, match="nope.pt"):
        segment_cellpose(np.zeros((4, 32, 32), np.float32), model=missing)


def test_foreign_file_is_rejected(tmp_path):
    bad = tmp_path / "bad.pt"
    torch.save({"weights": torch.zeros(3)}, bad)
    with pytest.raises(FileFormatError, match="bad.pt"):
        segment_cellpose(np.zeros((4, 32, 32), np.float32), model=bad)
    text = tmp_path / "text.pt"
    text.write_text("not a model")
    with pytest.raises(FileFormatError, match="text.pt"):
        _cellpose_net.model_kind(text)


def test_training_crops_shapes_and_rescaling():
    image = np.random.default_rng(0).random((10, 40, 30)).astype(np.float32)
    labels = np.zeros(image.shape, np.uint32)
    labels[2:8, 5:15, 5:15] = 1
    labels[3:6, 20:30, 12:25] = 7
    ims, ms = training_crops(image, labels, anisotropy=2.5, crop_size=32, n_per_axis=3)
    assert len(ims) == len(ms) == 9
    for im, m in zip(ims, ms):
        assert im.shape == m.shape and im.dtype == np.float32 and m.dtype == np.uint32
    # YX: 40 x 30 cropped to 32 x 30; ZY / ZX: z stretched 10 -> 25 rows
    assert [m.shape for m in ms[:3]] == [(32, 30)] * 3
    assert [m.shape for m in ms[3:6]] == [(25, 32)] * 3
    assert [m.shape for m in ms[6:]] == [(25, 30)] * 3
    # labels are renumbered 1..n and stay nearest-neighbour (no blends)
    for m in ms:
        assert set(np.unique(m)) <= set(range(int(m.max()) + 1))
    # an object 6 planes thick becomes 15 rows tall in a side view
    side = ms[3]
    rows = np.flatnonzero((side > 0).any(axis=1))
    assert 13 <= rows.size <= 16
    same = training_crops(image, labels, anisotropy=2.5, crop_size=32, n_per_axis=3)
    assert all(np.array_equal(a, b) for a, b in zip(ms, same[1]))


def test_training_crops_bad_input():
    with pytest.raises(InvalidInputError, match="same shape"):
        training_crops(np.zeros((4, 8, 8)), np.ones((4, 8, 9), np.uint8))
    with pytest.raises(InvalidInputError, match="anisotropy"):
        training_crops(np.zeros((4, 8, 8)), np.ones((4, 8, 8), np.uint8), anisotropy=0)


def test_quick_training_writes_a_usable_model(nuclei, tmp_path):
    image, truth, spacing = nuclei
    torch.set_num_threads(2)
    sub = (slice(10, 42), slice(0, 96), slice(0, 96))
    out = tmp_path / "tiny.pt"
    ticks = []
    path = train_cellpose(
        image[sub], truth[sub], anisotropy=spacing[0] / spacing[1], out=out,
        n_epochs=2, batch_size=4, crop_size=64, n_per_axis=2, bsize=64,
        progress=lambda d, t: ticks.append((d, t)),
    )
    assert path == out and out.is_file()
    assert not list(tmp_path.glob("*.tmp"))
    assert ticks[0][0] == 0 and ticks[-1][0] == ticks[-1][1] > 0
    assert _cellpose_net.model_kind(out) == "plexus"
    labels = segment_cellpose(image[12:20, :64, :64], spacing=spacing, model=out)
    assert labels.shape == (8, 64, 64) and labels.dtype == np.uint32
    # fine-tuning starts from a Plexus file and refuses other files
    again = train_cellpose(
        image[sub], truth[sub], out=tmp_path / "tuned.pt", base_model=out,
        n_epochs=1, batch_size=4, crop_size=64, n_per_axis=1, bsize=64,
    )
    assert again.is_file()
    with pytest.raises(MissingFileError, match="missing.pt"):
        train_cellpose(image[sub], truth[sub], out=tmp_path / "x.pt",
                       base_model=tmp_path / "missing.pt", n_epochs=1)


def test_training_is_reproducible(nuclei, tmp_path):
    image, truth, _ = nuclei
    torch.set_num_threads(2)
    sub = (slice(10, 30), slice(0, 64), slice(0, 64))
    kw = dict(n_epochs=1, batch_size=4, crop_size=64, n_per_axis=1, bsize=64, seed=3)
    a = train_cellpose(image[sub], truth[sub], out=tmp_path / "a.pt", **kw)
    b = train_cellpose(image[sub], truth[sub], out=tmp_path / "b.pt", **kw)
    sa = torch.load(a, weights_only=True)["state_dict"]
    sb = torch.load(b, weights_only=True)["state_dict"]
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
