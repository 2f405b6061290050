"""Random-forest pixel classification: accuracy on real nuclei, blockwise
equality, physical features, the safe file format and input errors."""

import json
import zipfile

import numpy as np
import pytest
from scipy import ndimage as ndi

from engine._errors import FileFormatError, InvalidInputError, MissingFileError
from engine.segment._features import feature_names, multiscale_features
from engine.segment._forest import PixelClassifier, segment_forest
from engine.segment._metrics import average_precision
from segment_data import nuclei_scribbles

HALF = 128  # strokes only where x < HALF; accuracy measured where x >= HALF
MIN_VOLUME = 100.0  # um^3: about a sixth of a nucleus (~700 um^3)
SPLIT = 6.0  # um: about a nucleus radius


@pytest.mark.slow
def test_nuclei_from_scribbles_on_unseen_half(nuclei):
    image, truth, spacing = nuclei
    scribbles = nuclei_scribbles(truth)
    fraction = np.count_nonzero(scribbles) / scribbles.size
    assert fraction < 0.01
    assert not scribbles[..., HALF:].any()
    assert {1, 2} <= set(np.unique(scribbles).tolist())
    labels = segment_forest(
        image,
        spacing=spacing,
        scribbles=scribbles,
        fill=True,
        min_volume=MIN_VOLUME,
        split=SPLIT,
    )
    assert labels.dtype == np.uint32 and labels.shape == image.shape
    unseen_truth, unseen = truth[..., HALF:], labels[..., HALF:]
    ap50, ap75 = average_precision(unseen_truth, unseen, thresholds=(0.5, 0.75))
    # Measured 0.929 / 0.800: the one miss at 0.5 is the truth's, a nucleus
    # cut by the top edge (y 0-12, x 196-223) that is not annotated.
    assert ap50 >= 0.9 and ap75 >= 0.75


def _blobs(shape=(20, 48, 48), seed=0):
    rng = np.random.default_rng(seed)
    field = ndi.gaussian_filter(rng.random(shape), 3)
    truth = field > np.percentile(field, 70)
    image = truth * 100.0 + rng.normal(0, 15, shape) + 20
    return image.astype(np.float32), truth


def _scribbles_for(truth):
    scribbles = np.zeros(truth.shape, np.uint8)
    inside = ndi.binary_erosion(truth, iterations=2)
    outside = ndi.binary_erosion(~truth, iterations=2)
    z = truth.shape[0] // 2
    scribbles[z][inside[z]] = 1
    scribbles[z][outside[z]] = 2
    return scribbles


@pytest.fixture(scope="module")
def small_classifier():
    image, truth = _blobs()
    clf = PixelClassifier(sigmas=(1.0, 2.0), n_estimators=20, n_jobs=2)
    clf.fit(image, _scribbles_for(truth), spacing=(2.0, 1.0, 1.0))
    return clf, image, truth


def test_blockwise_prediction_equals_whole_volume(small_classifier):
    clf, image, truth = small_classifier
    whole = clf.predict_proba(image, block_shape=image.shape)
    calls = []
    blocks = clf.predict_proba(
        image, block_shape=(7, 20, 17), progress=lambda d, t: calls.append((d, t))
    )
    assert whole.dtype == np.float32
    assert np.abs(whole - blocks).max() <= 1e-5
    assert calls[-1][0] == calls[-1][1] == len(calls) == 3 * 3 * 3
    # sanity: the classifier learned the blobs
    assert ((whole >= 0.5) == truth).mean() > 0.9

    # a progress callback that raises cancels the prediction
    def cancel(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        clf.predict_proba(image, block_shape=(7, 20, 17), progress=cancel)


def test_region_equals_the_same_box_of_the_whole_prediction(small_classifier):
    clf, image, _ = small_classifier
    whole = clf.predict_proba(image)
    for box in [(slice(7, 8), slice(None), slice(None)),
                (slice(0, 20), slice(5, 30), slice(40, 48))]:
        part = clf.predict_proba(image, region=box, block_shape=(4, 16, 16))
        np.testing.assert_array_equal(part, whole[box])
    with pytest.raises(InvalidInputError, match="region"):
        clf.predict_proba(image, region=(slice(3, 3), slice(None), slice(None)))


def test_features_agree_between_isotropic_and_anisotropic():
    rng = np.random.default_rng(1)
    iso = ndi.gaussian_filter(rng.random((48, 48, 48)), 2.5).astype(np.float32)
    aniso = iso[::3]  # every third plane: spacing 3 along z
    value_range = (float(iso.min()), float(iso.max()))
    kinds = ["gaussian", "gradient", "log", "hessian"]
    a = multiscale_features(
        iso, spacing=1.0, sigmas=[3.0], features=kinds, intensity_range=value_range
    )
    b = multiscale_features(
        aniso,
        spacing=(3.0, 1.0, 1.0),
        sigmas=[3.0],
        features=kinds,
        intensity_range=value_range,
    )
    names = feature_names([3.0], kinds)
    core = (slice(4, -4), slice(10, -10), slice(10, -10))  # away from the edges
    for k, name in enumerate(names):
        x, y = a[k][::3][core], b[k][core]
        err = np.abs(x - y).max() / np.abs(x).max()
        # smoothing is exact; derivatives are central differences, which
        # lose accuracy at 3 voxels per z step (measured: gradient 9 %,
        # Laplacian 15 %, Hessian eigenvalues up to 28 % of the range)
        assert err < {"gaussian": 0.01, "gradient": 0.12}.get(name[:-2], 0.35), (
            name,
            err,
        )
        assert np.corrcoef(x.ravel(), y.ravel())[0, 1] > 0.97, name
    # without the spacing, a voxel sigma blurs 3x more along z: clearly off
    c = multiscale_features(
        aniso, sigmas=[3.0], features=["gaussian"], intensity_range=value_range
    )
    off = np.abs(a[0][::3][core] - c[0][core]).max() / np.abs(a[0]).max()
    assert off > 3 * np.abs(a[0][::3][core] - b[0][core]).max() / np.abs(a[0]).max()


def test_feature_stack_matches_names():
    image = np.random.default_rng(2).random((6, 12, 12))
    stack = multiscale_features(image, sigmas=[1, 2])
    assert stack.shape == (len(feature_names([1, 2])), 6, 12, 12)
    assert stack.dtype == np.float32 and np.isfinite(stack).all()
    assert multiscale_features(image[0], sigmas=[1]).shape[1:] == (1, 12, 12)


def test_save_load_round_trip_is_exact(small_classifier, tmp_path):
    clf, image, _ = small_classifier
    path = tmp_path / "classifier.npz"
    clf.save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["classifier.npz"]  # no temp left
    with np.load(path, allow_pickle=False) as data:  # plain arrays only
        header = json.loads(bytes(data["header"]).decode())
    assert header["feature_names"] == clf.feature_names_
    assert header["spacing"] == [2.0, 1.0, 1.0] and "sklearn_version" in header
    loaded = PixelClassifier.load(path)
    assert loaded.spacing_ == clf.spacing_ and loaded.sigmas_ == clf.sigmas_
    np.testing.assert_array_equal(
        loaded.predict_proba(image, block_shape=(10, 48, 48)),
        clf.predict_proba(image, block_shape=(10, 48, 48)),
    )
    np.testing.assert_allclose(loaded.feature_importances_, clf.feature_importances_)
    labels = segment_forest(image, classifier=path, min_volume=1)
    assert labels.dtype == np.uint32 and labels.max() >= 1


def test_bad_inputs(small_classifier, tmp_path):
    _, image, truth = small_classifier
    scribbles = _scribbles_for(truth)
    fresh = PixelClassifier(sigmas=[1], n_estimators=2)
    with pytest.raises(
        InvalidInputError, match=r"scribbles.*\(20, 48, 48\).*\(20, 48, 40\)"
    ):
        fresh.fit(image, scribbles[..., :40])
    with pytest.raises(InvalidInputError, match="background"):
        fresh.fit(image, np.where(scribbles == 2, 0, scribbles))
    with pytest.raises(InvalidInputError, match="only 0"):
        fresh.fit(image, scribbles * 2)
    with pytest.raises(InvalidInputError, match="RGB"):
        fresh.fit(np.zeros((64, 64, 3)), np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(InvalidInputError, match="4D"):
        fresh.fit(np.zeros((2, 3, 16, 16)), np.zeros((2, 3, 16, 16), np.uint8))
    with pytest.raises(InvalidInputError, match="not trained"):
        fresh.predict_proba(image)
    with pytest.raises(InvalidInputError, match="either scribbles"):
        segment_forest(image)
    missing = tmp_path / "nowhere.npz"
    with pytest.raises(MissingFileError, match="nowhere.npz"):
        PixelClassifier.load(missing)
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 not really a zip archive")
    with pytest.raises(FileFormatError, match="corrupt.npz"):
        PixelClassifier.load(corrupt)
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(FileFormatError, match="pickled.npy"):
        PixelClassifier.load(pickled)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, weights=np.ones(3))
    with pytest.raises(FileFormatError, match="foreign.npz"):
        PixelClassifier.load(foreign)


def test_tampered_tree_tables_are_refused(small_classifier, tmp_path):
    clf, _, _ = small_classifier
    path = tmp_path / "clf.npz"
    clf.save(path)
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    header = json.loads(bytes(arrays["header"]).decode())
    # a child pointing back to the root would loop forever in compiled code
    loop = dict(arrays)
    loop["node_left_child"] = arrays["node_left_child"].copy()
    loop["node_left_child"][0] = 0
    np.savez(tmp_path / "loop.npz", **loop)
    with pytest.raises(FileFormatError, match="invalid node table"):
        PixelClassifier.load(tmp_path / "loop.npz")
    # a tree layout from another scikit-learn version
    other = dict(arrays)
    other["header"] = np.frombuffer(
        json.dumps({**header, "node_fields": header["node_fields"] + ["new"]}).encode(),
        dtype=np.uint8,
    )
    np.savez(tmp_path / "other.npz", **other)
    with pytest.raises(FileFormatError, match="tree layout differs"):
        PixelClassifier.load(tmp_path / "other.npz")
    with zipfile.ZipFile(path) as archive:  # still a plain zip of .npy arrays
        assert all(name.endswith(".npy") for name in archive.namelist())
