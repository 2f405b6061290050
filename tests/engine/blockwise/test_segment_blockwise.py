"""Blockwise segmentation equals the in-memory one, bit for bit.

Ground truth is always :mod:`engine.segment` on the same numpy volume;
every comparison is exact (np.array_equal, ==), whatever the chunks:
smaller than an object, smaller than a filter's radius, or one chunk.
"""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage as ndi

import engine.blockwise as bw
import engine.segment as mem
from engine._errors import InvalidInputError
from engine.blockwise.segment import gaussian as bw_gaussian
from engine.blockwise.segment import robust_range as bw_robust_range
from engine.segment._features import robust_range
from engine.segment._forest import PixelClassifier
from engine.segment._threshold import gaussian as mem_gaussian

SPACING = (0.29, 0.26, 0.26)  # the nuclei's, anisotropic
CHUNKS = [(5, 7, 9), (12, 48, 20)]


@pytest.fixture(scope="module")
def crop():
    """A small uint16 crop of the real nuclei (several whole and cut nuclei)."""
    from engine.datasets import nuclei

    image = nuclei().image
    return np.ascontiguousarray(image[20:44, 70:118, 70:118])


def ball(shape, centre, radius):
    grid = np.indices(shape).astype(float)
    return sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius**2


def equal_threshold(image, chunks, **kw):
    mask, value = bw.threshold_mask(image, chunks=chunks, **kw)
    ref_mask, ref_value = mem.threshold_mask(image, **kw)
    assert isinstance(mask, da.Array) and mask.dtype == bool
    assert np.array_equal(mask.compute(), ref_mask)
    assert type(value) is type(ref_value)
    assert np.array_equal(value, ref_value)  # exact, per slice too


# ------------------------------------------------------------- threshold


@pytest.mark.parametrize("chunks", CHUNKS)
@pytest.mark.parametrize("kw", [
    {},
    {"per_slice": True},
    {"smooth": 0.5, "spacing": SPACING},
    {"smooth": 0.6, "spacing": SPACING, "per_slice": True},
    {"method": "manual", "threshold": 300.5, "smooth": 0.4, "spacing": SPACING},
])
def test_threshold_on_nuclei(crop, chunks, kw):
    equal_threshold(crop, chunks, **kw)


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int8", "bool"])
def test_otsu_histograms_of_every_kind(dtype):
    # floats: 1024 bins; int32 over 2**16 wide: 1024 bins; int8 across
    # its whole range: exact bins (the in-memory path used to wrap around)
    rng = np.random.default_rng(3)
    field = ndi.gaussian_filter(rng.random((10, 16, 18)), 2)
    scale = {"float32": 1.0, "float64": 1e3, "int32": 3e6, "int8": 1.0, "bool": 1.0}[dtype]
    if dtype == "int8":
        image = (rng.integers(-128, 128, field.shape) // 2 + (field > field.mean()) * 60)
        image = image.clip(-128, 127).astype(np.int8)
    elif dtype == "bool":
        image = field > field.mean()
    else:
        image = ((field - field.mean()) * scale * 40 + rng.normal(0, 0.01 * scale, field.shape))
        image = image.astype(dtype)
    for chunks in [(3, 5, 7), (10, 16, 18)]:
        equal_threshold(image, chunks)
        equal_threshold(image, chunks, per_slice=True)


def test_per_slice_with_flat_planes_and_constant_image():
    image = np.random.default_rng(0).integers(0, 50, (6, 9, 9)).astype(np.uint16)
    image[2] = 7  # a flat plane: its level is its value
    equal_threshold(image, (4, 4, 5), per_slice=True)
    flat = np.full((4, 5, 6), 3.5, np.float32)
    equal_threshold(flat, (3, 3, 3))
    equal_threshold(flat, (3, 3, 3), per_slice=True)


@pytest.mark.parametrize("shape, sigma, spacing, chunks", [
    ((12, 20, 22), 1.5, (2.0, 0.5, 0.7), (3, 4, 5)),  # chunks below the radius
    ((2, 20, 22), 3.0, (1.0, 1.0, 1.0), (1, 9, 22)),  # an axis below the radius
    ((9, 15, 16), 0.3, (1.0, 1.0, 1.0), (4, 15, 5)),
])
def test_gaussian_is_bit_identical(shape, sigma, spacing, chunks):
    image = np.random.default_rng(1).random(shape).astype(np.float32) * 100
    ref = mem_gaussian(image, sigma, spacing=spacing)
    out = bw_gaussian(da.from_array(image, chunks=chunks), sigma, spacing=spacing)
    assert out.dtype == np.float32
    assert np.array_equal(out.compute(), ref)


# ------------------------------------------------------------ hole filling


def random_masks():
    rng = np.random.default_rng(7)
    for k in range(8):
        shape = tuple(int(s) for s in rng.integers(6, 17, 3))
        if k % 2:
            yield ndi.gaussian_filter(rng.random(shape), 1.0) > 0.5
        else:
            yield rng.random(shape) < rng.uniform(0.4, 0.75)


@pytest.mark.parametrize("chunks", [(5, 7, 9), (3, 3, 3), (16, 16, 16)])
def test_fill_holes_on_random_masks(chunks):
    filled_any = False
    for mask in random_masks():
        ref = mem.fill_holes(mask)
        filled_any |= bool((ref & ~mask).any())
        assert np.array_equal(bw.fill_holes(mask, chunks=chunks).compute(), ref)
    assert filled_any


@pytest.mark.parametrize("chunks", [(4, 5, 6), (7, 7, 7), (20, 22, 24)])
def test_fill_holes_with_cavities_larger_than_chunks(chunks):
    shape = (20, 22, 24)
    shell = ball(shape, (10, 11, 11), 9) & ~ball(shape, (10, 11, 11), 6)
    shell |= ball(shape, (10, 11, 11), 2)  # an island inside the cavity
    shell[0:3, 0:4, 18:24] = True  # a block with a one-voxel void...
    shell[1, 2, 20] = False
    shell[5:10, 8:13, 20:24] = True  # ...and a pocket open to the x face
    shell[7, 10, 21:24] = False
    ref = mem.fill_holes(shell)
    assert ref[10, 11, 6] and ref[1, 2, 20] and not ref[7, 10, 23]
    assert np.array_equal(bw.fill_holes(shell, chunks=chunks).compute(), ref)


def test_fill_holes_leaves_background_on_the_border():
    # fill_voids 2.1 alone fills mask[0, 0, 1] here: it touches the border
    mask = np.array([[[1, 0, 1], [0, 1, 0]], [[0, 1, 1], [1, 0, 0]]], bool)
    assert np.array_equal(mem.fill_holes(mask), mask)
    assert np.array_equal(bw.fill_holes(mask, chunks=(1, 1, 2)).compute(), mask)


# -------------------------------------------------------- segment_threshold


@pytest.mark.parametrize("kw, chunks", [
    ({}, (5, 7, 9)),
    ({"smooth": 0.5, "spacing": SPACING, "min_volume": 5.0}, (12, 48, 20)),
    ({"per_slice": True, "max_volume": 40.0, "spacing": SPACING, "fill": False}, (8, 16, 48)),
    ({"method": "manual", "threshold": 9000.5, "min_volume": 0.05, "max_volume": 50.0,
      "spacing": SPACING}, (24, 24, 24)),
])
def test_segment_threshold_labels_are_identical(crop, kw, chunks):
    ref = mem.segment_threshold(crop, **kw)
    labels = bw.segment_threshold(crop, chunks=chunks, **kw)
    assert isinstance(labels, bw.ChunkedLabels)
    assert labels.n_kept == int(ref.max()) > 1
    # values equal; the dtype is the smallest that holds the ids
    assert np.array_equal(labels.to_dask().compute(), ref)


def test_segment_threshold_progress_and_cancel(crop):
    image = crop[:12, :24, :24]
    calls = []
    bw.segment_threshold(image, chunks=(6, 12, 12), progress=lambda d, t: calls.append((d, t)))
    totals = {t for _, t in calls}
    assert len(totals) == 1 and calls[-1][0] == calls[-1][1] == totals.pop()
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    def cancel(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        bw.threshold_mask(image, chunks=(6, 12, 12), progress=cancel)


# ------------------------------------------------------------ pixel forest


def blobs(shape=(16, 40, 40), seed=0):
    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.random(shape), 3)
    truth = field > np.percentile(field, 70)
    image = truth * 100.0 + rng.normal(0, 15, shape) + 20
    return image.astype(np.float32), truth


@pytest.fixture(scope="module")
def forest():
    image, truth = blobs()
    scribbles = np.zeros(truth.shape, np.uint8)
    z = truth.shape[0] // 2
    scribbles[z][ndi.binary_erosion(truth, iterations=2)[z]] = 1
    scribbles[z][ndi.binary_erosion(~truth, iterations=2)[z]] = 2
    clf = PixelClassifier(sigmas=(1.0, 2.0), n_estimators=8, n_jobs=1)
    return clf.fit(image, scribbles, spacing=(2.0, 1.0, 1.0)), image


@pytest.mark.parametrize("chunks", [(5, 7, 9), (3, 3, 3), (16, 40, 40)])
def test_predict_proba_is_bit_identical(forest, chunks):
    clf, image = forest
    proba = bw.predict_proba(clf, image, chunks=chunks)
    assert isinstance(proba, da.Array) and proba.dtype == np.float32
    assert np.array_equal(proba.compute(), clf.predict_proba(image))


def test_predict_on_nuclei_with_spacing_and_ranges(forest, crop, tmp_path):
    clf, _ = forest
    image = crop[:, :30, :40]
    for spacing, value_range in [(SPACING, None), (None, "training"), ((1.0, 0.5, 0.5), (90, 800))]:
        ref = clf.predict_proba(image, spacing, intensity_range=value_range)
        out = bw.predict_proba(clf, image, spacing, intensity_range=value_range, chunks=(7, 9, 11))
        assert np.array_equal(out.compute(), ref)
    # thinner than the halo (read whole along z), and a 2D image
    for thin, chunks in [(crop[:3, :20, :30], (1, 9, 9)), (crop[4, :25, :30], (1, 8, 30))]:
        ref = clf.predict_proba(thin, SPACING)
        assert np.array_equal(bw.predict_proba(clf, thin, SPACING, chunks=chunks).compute(), ref)
    path = tmp_path / "clf.npz"
    clf.save(path)
    mask = bw.predict(str(path), da.from_array(image, chunks=(24, 10, 40)), SPACING,
                      probability=0.3)
    assert mask.dtype == bool
    assert np.array_equal(mask.compute(), clf.predict(image, SPACING, probability=0.3))


def test_robust_range_reads_the_same_sample(forest, monkeypatch):
    import engine.segment._features as features

    clf, image = forest
    # a sample step of 7 on this small volume, as on a very large one
    monkeypatch.setattr(features, "_PERCENTILE_SAMPLES", image.size // 7)
    for chunks in [(5, 7, 9), (16, 13, 40)]:
        volume = da.from_array(image, chunks=chunks)
        assert bw_robust_range(volume) == robust_range(image)
        assert bw_robust_range(volume.astype(np.uint16)) == robust_range(image.astype(np.uint16))
        assert np.array_equal(bw.predict_proba(clf, volume).compute(), clf.predict_proba(image))


# ------------------------------------------------------ on a local cluster


def test_segmentation_on_a_local_cluster(crop, forest):
    # worker processes: the tasks, the classifier shared by key, the fill
    # and the labels travel between processes and still give the same bits
    clf, image = forest
    kw = {"smooth": 0.5, "spacing": SPACING, "min_volume": 5.0}
    ref = mem.segment_threshold(crop, **kw)
    ref_slices = mem.threshold_mask(crop, per_slice=True)
    shell = ball((20, 22, 24), (10, 11, 11), 9) & ~ball((20, 22, 24), (10, 11, 11), 6)
    shell |= ball((20, 22, 24), (10, 11, 11), 2)
    seen = []
    with bw.scheduler("processes", memory_limit="1GB", workers=2) as client:
        assert client is not None and len(client.scheduler_info()["workers"]) == 2
        labels = bw.segment_threshold(crop, chunks=(12, 24, 24),
                                      progress=lambda d, t: seen.append((d, t)), **kw)
        got = labels.to_dask().compute()
        mask, value = bw.threshold_mask(crop, per_slice=True, chunks=(5, 24, 48))
        got_mask = mask.compute()
        proba = bw.predict_proba(clf, image, chunks=(8, 20, 20)).compute()
        filled = bw.fill_holes(shell, chunks=(10, 11, 12)).compute()
    assert labels.n_kept == int(ref.max()) > 1
    assert np.array_equal(got, ref)
    assert np.array_equal(got_mask, ref_slices[0]) and np.array_equal(value, ref_slices[1])
    assert np.array_equal(proba, clf.predict_proba(image))
    assert np.array_equal(filled, mem.fill_holes(shell)) and filled.sum() > shell.sum()
    assert seen[-1][0] == seen[-1][1] and [d for d, _ in seen] == sorted(d for d, _ in seen)


# ------------------------------------------------------------- bad input


def test_bad_inputs_are_named(forest):
    clf, image = forest
    vol = np.zeros((4, 5, 6), np.uint8)
    cases = [
        (lambda: bw.threshold_mask(vol, chunks=(0, 2, 2)), "chunks"),
        (lambda: bw.threshold_mask(vol, chunks=(2, 2)), "chunks"),
        (lambda: bw.threshold_mask(vol.astype(complex)), "image"),
        (lambda: bw.threshold_mask(np.zeros((2, 3, 4, 5))), "image"),
        (lambda: bw.threshold_mask(vol, method="mean"), "method"),
        (lambda: bw.threshold_mask(vol, method="manual"), "threshold"),
        (lambda: bw.threshold_mask(vol, method="manual", threshold="x"), "threshold"),
        (lambda: bw.threshold_mask(vol, smooth=-1), "smooth"),
        (lambda: bw.threshold_mask(vol, spacing=(1, 0, 1)), "spacing"),
        (lambda: bw.threshold_mask(np.array([[[0.0, np.nan, 1.0]]])), "NaN"),
        (lambda: bw.fill_holes(np.zeros((0, 3, 3), bool)), "mask"),
        (lambda: bw.segment_threshold(vol, split=4.0), "split"),
        (lambda: bw.segment_threshold(vol, min_volume=5, max_volume=2), "max_volume"),
        (lambda: bw.segment_threshold(vol, min_volume=-1), "min_volume"),
        (lambda: bw.predict_proba(PixelClassifier(), image), "not trained"),
        (lambda: bw.predict_proba(42, image), "classifier"),
        (lambda: bw.predict_proba(clf, image, intensity_range=(5, 1)), "intensity_range"),
        (lambda: bw.predict(clf, image, probability=1.5), "probability"),
    ]
    for call, word in cases:
        with pytest.raises(InvalidInputError, match=word):
            call()
