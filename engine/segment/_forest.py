"""Random-forest pixel classification from sparse scribbles (ilastik's idea).

The user paints a few strokes: 1 on objects, 2 on background. A random
forest learns the two classes from the multiscale features of the painted
voxels only, then classifies every voxel block by block, so memory is
bounded by the block, not the volume. A trained classifier saves to an
``.npz`` file of plain arrays plus a JSON header; loading it executes no
code (no pickle), unlike a joblib dump of the scikit-learn object.
"""

import json
import os
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._errors import FileFormatError, InvalidInputError, MissingFileError
from .._validate import as_volume, check_count, check_same_shape, check_spacing
from ._features import (
    FEATURES,
    _block_features,
    check_features,
    check_image,
    check_sigmas,
    default_sigmas,
    feature_halo,
    feature_names,
    robust_range,
)

FOREGROUND = 1
BACKGROUND = 2
_FORMAT = "plexus-pixel-classifier"
_FORMAT_VERSION = 1
# Core voxels per block when no block shape is given: with the 41 default
# features the block's feature matrix is about 340 MB.
_BLOCK_VOXELS = 1 << 21
# Rows per task when the trees are evaluated in threads.
_ROWS_PER_TASK = 1 << 16


class PixelClassifier:
    """Foreground/background voxel classifier trained on scribbles.

    Parameters
    ----------
    sigmas : sequence of float, optional
        Feature scales in the unit of the spacing given to :meth:`fit`
        (voxels without one). Default (0.5, 1, 2, 3.5) with a spacing,
        (1, 2, 4, 7) voxels without.
    features : sequence of str
        Feature groups, see :func:`~engine.segment.multiscale_features`.
    n_estimators : int
        Trees in the forest.
    max_depth : int, optional
        Depth limit of each tree (None: grow until leaves are pure).
    min_samples_leaf : int
        Fewest training voxels per leaf; more gives smoother probabilities.
    class_weight : {"balanced", None}
        "balanced" weighs the classes inversely to their scribbled voxel
        counts, so a long background stroke does not drown the objects.
    random_state : int
        Seed; the same scribbles give the same forest.
    n_jobs : int
        Threads for training and prediction (-1: all cores).

    Attributes
    ----------
    feature_names_ : list of str
    spacing_ : tuple of float or None
        Spacing used in training; the default for prediction.
    sigmas_ : tuple of float
    n_training_ : dict
        Scribbled voxels per class, ``{"foreground": n, "background": n}``.
    intensity_range_ : (float, float)
        Robust intensity range of the training image.

    Examples
    --------
    >>> image = np.zeros((6, 24, 24), np.float32); image[:, 6:18, 6:18] = 1
    >>> scribbles = np.zeros(image.shape, np.uint8)
    >>> scribbles[3, 12, 9:15] = 1; scribbles[3, 1, 1:23] = 2
    >>> clf = PixelClassifier(sigmas=[1], n_estimators=10).fit(image, scribbles)
    >>> mask = clf.predict(image)
    >>> bool((mask == (image > 0)).all())
    True
    """

    def __init__(
        self,
        sigmas=None,
        features=FEATURES,
        *,
        n_estimators=100,
        max_depth=None,
        min_samples_leaf=1,
        class_weight="balanced",
        random_state=0,
        n_jobs=-1,
    ):
        self.sigmas = None if sigmas is None else check_sigmas(sigmas)
        self.features = check_features(features)
        self.n_estimators = check_count(n_estimators, name="n_estimators")
        self.max_depth = (
            None if max_depth is None else check_count(max_depth, name="max_depth")
        )
        self.min_samples_leaf = check_count(min_samples_leaf, name="min_samples_leaf")
        if class_weight not in ("balanced", None):
            raise InvalidInputError(
                f"class_weight must be 'balanced' or None, was {class_weight!r}"
            )
        self.class_weight = class_weight
        self.random_state = int(random_state)
        if not isinstance(n_jobs, int) or n_jobs == 0:
            raise InvalidInputError(
                f"n_jobs must be a non-zero integer, was {n_jobs!r}"
            )
        self.n_jobs = n_jobs
        self._trees = None
        self._leaves = None

    # ------------------------------------------------------------- training

    def fit(self, image, scribbles, spacing=None):
        """Train on the voxels painted in ``scribbles``.

        Parameters
        ----------
        image : (Z, Y, X) or (Y, X) array
            One intensity channel.
        scribbles : integer array, same shape as ``image``
            1 = foreground, 2 = background, 0 = not labelled.
        spacing : float or (dz, dy, dx), optional
            Voxel size; ``sigmas`` are in its unit.

        Returns
        -------
        self

        Notes
        -----
        Features are computed only in blocks that hold scribbles, each
        grown by the features' halo, so the training values equal those
        of the whole volume at a fraction of the cost.
        """
        import sklearn.ensemble as sklearn_ensemble
        volume = check_image(image)
        labels = _check_scribbles(scribbles, volume)
        self.spacing_ = None if spacing is None else check_spacing(spacing)
        voxel_size = check_spacing(self.spacing_)
        self.sigmas_ = self.sigmas or default_sigmas(self.spacing_)
        self.feature_names_ = feature_names(self.sigmas_, self.features)
        self.intensity_range_ = robust_range(volume)
        halo = feature_halo(self.sigmas_, self.features, voxel_size)
        samples, targets = [], []
        block_shape = _auto_block_shape(volume.shape, voxel_size)
        for core in _blocks(volume.shape, block_shape):
            painted = labels[core]
            if not painted.any():
                continue
            # shrink the block to the bounding box of its strokes
            box = _bounding_box(painted, core)
            values = self._features(
                volume, box, halo, voxel_size, self.intensity_range_
            )
            marks = labels[box].reshape(-1)
            keep = marks != 0
            samples.append(values[keep])
            targets.append(marks[keep] == FOREGROUND)
        features = np.concatenate(samples)
        target = np.concatenate(targets).astype(np.int8)
        forest = sklearn_ensemble.RandomForestClassifier(
            n_estimators=self.n_estimators,
            max_depth=self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            class_weight=self.class_weight,
            random_state=self.random_state,
            n_jobs=self.n_jobs,
        )
        forest.fit(features, target)
        self._trees = list(forest.estimators_)
        self._leaves = None
        self.n_training_ = {
            "foreground": int(target.sum()),
            "background": int(target.size - target.sum()),
        }
        return self

    # ----------------------------------------------------------- prediction

    def predict_proba(
        self,
        image,
        spacing=None,
        *,
        block_shape=None,
        intensity_range=None,
        region=None,
        progress=None,
    ):
        """Foreground probability of every voxel, computed block by block.

        Parameters
        ----------
        image : (Z, Y, X) or (Y, X) array
            One intensity channel (may be a memory-mapped file).
        spacing : float or (dz, dy, dx), optional
            Voxel size; default: the spacing used in training.
        block_shape : (int, int, int), optional
            Core shape of a block (each is grown by the feature halo).
            Default: about two million voxels, cut so blocks are roughly
            cubic in physical units (less halo per voxel).
        intensity_range : (low, high) or "training", optional
            Intensities mapped to 0 and 1. Default: this image's 0.5th and
            99.5th percentiles (robust to a different gain or offset);
            "training" reuses the training image's range.
        region : tuple of 3 slices, optional
            Predict only this box (a plane for a live preview); its
            values equal the same box of a whole-volume prediction made
            with the same ``intensity_range``.
        progress : callable, optional
            ``progress(done, total)`` after each block; raising an
            exception from it cancels the prediction.

        Returns
        -------
        (Z, Y, X) float32 array
            Probabilities in [0, 1]; equal to a whole-volume prediction
            whatever the block shape. With ``region``, the box's shape.
        """
        self._check_fitted()
        volume = check_image(image)
        voxel_size = check_spacing(self.spacing_ if spacing is None else spacing)
        value_range = resolve_intensity_range(
            intensity_range, self.intensity_range_, lambda: robust_range(volume))
        if block_shape is None:
            block_shape = _auto_block_shape(volume.shape, voxel_size)
        else:
            block_shape = _check_block_shape(block_shape)
        halo = feature_halo(self.sigmas_, self.features, voxel_size)
        box = _check_region(region, volume.shape)
        origin = [b.start for b in box]
        cores = list(_blocks([b.stop - b.start for b in box], block_shape))
        out = np.empty([b.stop - b.start for b in box], dtype=np.float32)
        for done, core in enumerate(cores, start=1):
            shifted = tuple(slice(c.start + o, c.stop + o) for c, o in zip(core, origin))
            values = self._features(volume, shifted, halo, voxel_size, value_range)
            out[core] = self._forest_proba(values).reshape(out[core].shape)
            del values
            if progress is not None:
                progress(done, len(cores))
        return out

    def predict(
        self,
        image,
        spacing=None,
        *,
        probability=0.5,
        block_shape=None,
        intensity_range=None,
        progress=None,
    ):
        """Foreground mask: voxels whose probability is >= ``probability``.

        Takes the arguments of :meth:`predict_proba`; returns a bool array.
        """
        probability = _check_probability(probability)
        proba = self.predict_proba(
            image,
            spacing,
            block_shape=block_shape,
            intensity_range=intensity_range,
            progress=progress,
        )
        return proba >= probability

    @property
    def feature_importances_(self):
        """Mean impurity decrease per feature (sums to 1), as in scikit-learn."""
        self._check_fitted()
        parts = [
            t.tree_.compute_feature_importances(normalize=True) for t in self._trees
        ]
        return np.mean(parts, axis=0)

    def _check_fitted(self):
        if self._trees is None:
            raise InvalidInputError(
                "this PixelClassifier is not trained; call fit(image, scribbles) "
                "or PixelClassifier.load(path) first"
            )

    def _features(self, volume, core, halo, spacing, value_range):
        """Feature matrix (voxels of ``core``, features), C-ordered float32."""
        shape = volume.shape
        grown = tuple(
            slice(max(c.start - h, 0), min(c.stop + h, n))
            for c, h, n in zip(core, halo, shape)
        )
        inner = tuple(
            slice(c.start - g.start, c.stop - g.start) for c, g in zip(core, grown)
        )
        size = int(np.prod([c.stop - c.start for c in core]))
        # one row per voxel: the trees read a voxel's features together
        matrix = np.empty((size, len(self.feature_names_)), dtype=np.float32)
        block = volume[grown]
        generator = _block_features(
            block, inner, spacing, self.sigmas_, self.features, value_range
        )
        for k, values in enumerate(generator):
            matrix[:, k] = values.reshape(-1)
        return matrix

    def _forest_proba(self, features):
        """Mean foreground probability of the trees, in a fixed order.

        Threads split the rows, not the trees, so the sum runs over the
        trees in the same order every time and a loaded classifier gives
        bit-identical probabilities.
        """
        rows = features.shape[0]
        starts = range(0, rows, _ROWS_PER_TASK)

        leaves = self._leaf_probabilities()

        def task(start):
            part = features[start : start + _ROWS_PER_TASK]
            total = np.zeros(part.shape[0], dtype=np.float64)
            for tree, leaf_fg in zip(self._trees, leaves):
                # the compiled walk releases the GIL: threads run in parallel
                total += leaf_fg[tree.tree_.apply(part)]
            return total / len(self._trees)

        workers = os.cpu_count() if self.n_jobs < 0 else self.n_jobs
        if workers <= 1 or len(starts) == 1:
            parts = [task(s) for s in starts]
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(task, starts))
        return np.concatenate(parts).astype(np.float32)

    def _leaf_probabilities(self):
        """Foreground fraction of every node of every tree (cached)."""
        if getattr(self, "_leaves", None) is None:
            leaves = []
            for tree in self._trees:
                value = tree.tree_.value[:, 0, :]
                total = value.sum(axis=1)
                total[total == 0] = 1.0
                leaves.append(value[:, 1] / total)
            self._leaves = leaves
        return self._leaves

    # ------------------------------------------------------------ save/load

    def save(self, path):
        """Write the trained classifier to ``path`` (an ``.npz`` file).

        The file holds the trees' node tables as plain arrays and a JSON
        header (format version, scikit-learn version, features, sigmas,
        spacing); it is replaced atomically, so a crash never leaves a
        half-written classifier.
        """
        from sklearn import __version__ as sklearn_version

        from ..io._atomic import atomic_write

        self._check_fitted()
        states = [t.tree_.__getstate__() for t in self._trees]
        nodes = np.concatenate([s["nodes"] for s in states])
        header = {
            "format": _FORMAT,
            "format_version": _FORMAT_VERSION,
            "sklearn_version": sklearn_version,
            "numpy_version": np.__version__,
            "sigmas": list(self.sigmas_),
            "features": list(self.features),
            "feature_names": self.feature_names_,
            "spacing": None if self.spacing_ is None else list(self.spacing_),
            "intensity_range": list(self.intensity_range_),
            "n_training": self.n_training_,
            "params": {
                "n_estimators": self.n_estimators,
                "max_depth": self.max_depth,
                "min_samples_leaf": self.min_samples_leaf,
                "class_weight": self.class_weight,
                "random_state": self.random_state,
            },
            "node_fields": list(nodes.dtype.names),
            "classes": {"0": "background", "1": "foreground"},
        }
        arrays = {
            "header": np.frombuffer(json.dumps(header).encode(), dtype=np.uint8),
            "node_counts": np.array([len(s["nodes"]) for s in states], dtype=np.int64),
            "max_depths": np.array([s["max_depth"] for s in states], dtype=np.int64),
            "values": np.concatenate([s["values"] for s in states]),
        }
        for field in nodes.dtype.names:
            arrays[f"node_{field}"] = np.ascontiguousarray(nodes[field])
        with atomic_write(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path):
        """Read a classifier written by :meth:`save`; no code is executed.

        Raises
        ------
        MissingFileError
            If ``path`` does not exist.
        FileFormatError
            If the file is not a Plexus classifier, is damaged, or its
            tree layout does not match the installed scikit-learn.
        """
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise MissingFileError(f"classifier file not found: {path}")
        try:
            with np.load(path, allow_pickle=False) as data:
                if not isinstance(data, np.lib.npyio.NpzFile):
                    raise ValueError("not an .npz archive")  # noqa: TRY004
                arrays = {key: data[key] for key in data.files}
            header = json.loads(bytes(arrays["header"]).decode())
        except (
            OSError,
            ValueError,
            KeyError,
            EOFError,
            zipfile.BadZipFile,
            UnicodeDecodeError,
            AttributeError,
        ) as err:
            raise FileFormatError(
                f"{path} is not a Plexus pixel-classifier file ({err})"
            ) from None
        if not isinstance(header, dict) or header.get("format") != _FORMAT:
            raise FileFormatError(f"{path} is not a Plexus pixel-classifier file")
        if header.get("format_version") != _FORMAT_VERSION:
            raise FileFormatError(
                f"{path} has classifier format version "
                f"{header.get('format_version')!r}; this Plexus reads version "
                f"{_FORMAT_VERSION}"
            )
        try:
            params = header["params"]
            clf = cls(header["sigmas"], header["features"], **params)
            clf.sigmas_ = tuple(header["sigmas"])
            clf.spacing_ = (
                None if header["spacing"] is None else tuple(header["spacing"])
            )
            clf.feature_names_ = list(header["feature_names"])
            clf.intensity_range_ = tuple(header["intensity_range"])
            clf.n_training_ = dict(header["n_training"])
            clf._trees = _rebuild_trees(arrays, header, len(clf.feature_names_), path)
        except (KeyError, TypeError, ValueError) as err:
            if isinstance(err, FileFormatError):
                raise
            raise FileFormatError(
                f"{path} is a damaged classifier file ({err!r})"
            ) from None
        if clf.feature_names_ != feature_names(clf.sigmas_, clf.features):
            raise FileFormatError(f"{path}: feature names do not match its sigmas")
        return clf


def segment_forest(
    image,
    *,
    spacing=None,
    scribbles=None,
    classifier=None,
    probability=0.5,
    fill=True,
    min_volume=None,
    max_volume=None,
    split=None,
    block_shape=None,
    progress=None,
):
    """Segment objects with a random forest trained on scribbles.

    Parameters
    ----------
    image : (Z, Y, X) or (Y, X) array
        One intensity channel.
    spacing : float or (dz, dy, dx), optional
        Voxel size (default: the classifier's training spacing).
    scribbles : integer array, optional
        1 = foreground, 2 = background, 0 = unlabelled; trains a new
        :class:`PixelClassifier` with default settings.
    classifier : PixelClassifier or path, optional
        A trained classifier or a file saved by it (instead of scribbles).
    probability : float
        Foreground threshold on the predicted probability.
    fill, min_volume, max_volume, split
        Post-processing, see :func:`~engine.segment.postprocess_mask`:
        hole filling, physical volume range, and the physical distance
        used to split touching objects.
    block_shape : (int, int, int), optional
        Block size for prediction, see :meth:`PixelClassifier.predict_proba`.
    progress : callable, optional
        ``progress(done, total)`` per predicted block; may raise to cancel.

    Returns
    -------
    (Z, Y, X) uint32 array
        Labels, 0 = background.

    Examples
    --------
    >>> image = np.zeros((6, 24, 24), np.float32)
    >>> image[:, 4:10, 4:10] = image[:, 14:20, 14:20] = 1
    >>> scribbles = np.zeros(image.shape, np.uint8)
    >>> scribbles[3, 7, 5:9] = 1; scribbles[3, 12, 2:22] = 2
    >>> labels = segment_forest(image, scribbles=scribbles)
    >>> int(labels.max())
    2
    """
    from ._threshold import postprocess_mask

    if (scribbles is None) == (classifier is None):
        raise InvalidInputError(
            "give either scribbles (to train a classifier) or classifier "
            "(a trained PixelClassifier or its file), not both or neither"
        )
    probability = _check_probability(probability)
    if classifier is None:
        classifier = PixelClassifier().fit(image, scribbles, spacing=spacing)
    elif not isinstance(classifier, PixelClassifier):
        classifier = PixelClassifier.load(classifier)
    proba = classifier.predict_proba(
        image, spacing, block_shape=block_shape, progress=progress
    )
    mask = proba >= probability
    del proba
    if spacing is None:
        spacing = classifier.spacing_
    return postprocess_mask(
        mask,
        spacing=spacing,
        fill=fill,
        min_volume=min_volume,
        max_volume=max_volume,
        split=split,
    )


# ---------------------------------------------------------------- helpers


def _check_scribbles(scribbles, volume):
    raw = np.asarray(scribbles)
    labels = as_volume(raw, name="scribbles")
    check_same_shape(volume, labels, names=("image", "scribbles"))
    if labels.dtype == bool:
        labels = labels.view(np.uint8)
    if labels.dtype.kind not in "ui":
        raise InvalidInputError(
            f"scribbles must be an integer label image (1 = foreground, "
            f"2 = background), got dtype {labels.dtype}"
        )
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high > BACKGROUND:
        raise InvalidInputError(
            "scribbles must hold only 0 (unlabelled), 1 (foreground) and "
            f"2 (background), found values from {low} to {high}"
        )
    missing = [
        name
        for name, value in (
            ("foreground (1)", FOREGROUND),
            ("background (2)", BACKGROUND),
        )
        if not (labels == value).any()
    ]
    if missing:
        raise InvalidInputError(
            f"scribbles need both classes; no {' and no '.join(missing)} voxels "
            "were painted"
        )
    return labels


def _check_probability(probability):
    try:
        probability = float(probability)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"probability must be a number in (0, 1), was {probability!r}"
        ) from None
    if not 0 < probability < 1:
        raise InvalidInputError(f"probability must be in (0, 1), was {probability!r}")
    return probability


def resolve_intensity_range(intensity_range, training_range, robust):
    """The (low, high) mapped to 0 and 1: ``robust()`` by default, the
    training range for ``"training"``, else the given pair (checked)."""
    if intensity_range is None:
        return robust()
    if isinstance(intensity_range, str) and intensity_range == "training":
        return training_range
    return _check_range(intensity_range)


def _check_range(value_range):
    try:
        low, high = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"intensity_range must be (low, high) or 'training', was {value_range!r}"
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and high > low):
        raise InvalidInputError(
            f"intensity_range must be finite with high > low, was {value_range!r}"
        )
    return low, high


def _check_region(region, shape):
    if region is None:
        return tuple(slice(0, n) for n in shape)
    try:
        box = tuple(slice(*r.indices(n)[:2]) for r, n in zip(region, shape))
    except (TypeError, AttributeError):
        raise InvalidInputError(
            f"region must be 3 slices (z, y, x), was {region!r}"
        ) from None
    if len(box) != 3 or any(b.stop <= b.start for b in box):
        raise InvalidInputError(
            f"region must be 3 non-empty slices within shape {shape}, was {region!r}"
        )
    return box


def _check_block_shape(block_shape):
    try:
        shape = tuple(int(b) for b in block_shape)
    except (TypeError, ValueError):
        raise InvalidInputError(
            f"block_shape must be 3 positive integers, was {block_shape!r}"
        ) from None
    if len(shape) != 3 or min(shape) < 1:
        raise InvalidInputError(
            f"block_shape must be 3 positive integers, was {block_shape!r}"
        )
    return shape


def _auto_block_shape(shape, spacing, voxels=_BLOCK_VOXELS):
    """Halve the physically longest axis until a block has <= ``voxels``.

    Roughly cubic blocks (in physical units) have the least halo per
    core voxel; an axis that fits whole needs no halo at all.

    >>> _auto_block_shape((60, 256, 256), (0.29, 0.26, 0.26))
    (60, 128, 256)
    """
    block = list(shape)
    while np.prod(block) > voxels:
        axis = int(np.argmax([b * s if b > 1 else 0 for b, s in zip(block, spacing)]))
        block[axis] = -(-block[axis] // 2)
    return tuple(block)


def _blocks(shape, block_shape):
    """Core slices tiling ``shape`` (near-equal blocks of at most ``block_shape``)."""
    edges = []
    for size, step in zip(shape, block_shape):
        count = -(-size // min(step, size))
        edges.append(np.linspace(0, size, count + 1).round().astype(int))
    for z0, z1 in zip(edges[0][:-1], edges[0][1:]):
        for y0, y1 in zip(edges[1][:-1], edges[1][1:]):
            for x0, x1 in zip(edges[2][:-1], edges[2][1:]):
                yield slice(z0, z1), slice(y0, y1), slice(x0, x1)


def _bounding_box(mask, core):
    """Slices (in the volume) of the nonzero voxels of ``mask`` = volume[core]."""
    box = []
    for axis, c in enumerate(core):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(mask.any(axis=other))
        box.append(slice(c.start + int(hits[0]), c.start + int(hits[-1]) + 1))
    return tuple(box)


def _rebuild_trees(arrays, header, n_features, path):
    """Recreate scikit-learn decision trees from the saved node tables."""
    from sklearn.tree import DecisionTreeClassifier
    from sklearn.tree._tree import NODE_DTYPE, Tree

    saved = list(header["node_fields"])
    wanted = list(NODE_DTYPE.names)
    # 'missing_go_to_left' (scikit-learn >= 1.3) is unused by trees that
    # never saw a missing value, which is always the case here.
    optional = {"missing_go_to_left"}
    absent = [f for f in wanted if f not in saved and f not in optional]
    extra = [f for f in saved if f not in wanted]
    if absent or extra:
        raise FileFormatError(
            f"{path} was saved with scikit-learn {header.get('sklearn_version')} "
            f"whose tree layout differs from the installed one (fields "
            f"missing: {absent}, unknown: {extra}); retrain the classifier"
        )
    counts = arrays["node_counts"]
    depths = arrays["max_depths"]
    values = arrays["values"]
    total = int(counts.sum())
    if counts.ndim != 1 or len(counts) != len(depths) or not len(counts):
        raise FileFormatError(f"{path}: damaged tree table")
    if values.shape[0] != total or values.ndim != 3 or values.shape[1:] != (1, 2):
        raise FileFormatError(f"{path}: damaged value table {values.shape}")
    nodes = np.zeros(total, dtype=NODE_DTYPE)
    for field in wanted:
        if field in saved:
            column = arrays[f"node_{field}"]
            if column.shape != (total,):
                raise FileFormatError(f"{path}: damaged node field {field!r}")
            nodes[field] = column
    trees = []
    if (counts < 1).any():
        raise FileFormatError(f"{path}: damaged tree table")
    offsets = np.concatenate([[0], np.cumsum(counts)])
    for k in range(len(counts)):
        part = slice(int(offsets[k]), int(offsets[k + 1]))
        tree = Tree(n_features, np.array([2], dtype=np.intp), 1)
        try:
            tree.__setstate__(
                {
                    "max_depth": int(depths[k]),
                    "node_count": int(counts[k]),
                    "nodes": np.ascontiguousarray(nodes[part]),
                    "values": np.ascontiguousarray(values[part], dtype=np.float64),
                }
            )
        except (ValueError, TypeError) as err:
            raise FileFormatError(
                f"{path}: tree {k} cannot be rebuilt ({err})"
            ) from None
        _check_tree(nodes[part], n_features, path, k)
        estimator = DecisionTreeClassifier()
        estimator.tree_ = tree
        estimator.n_features_in_ = n_features
        estimator.n_outputs_ = 1
        estimator.n_classes_ = 2
        estimator.classes_ = np.array([0, 1])
        trees.append(estimator)
    return trees


def _check_tree(nodes, n_features, path, k):
    """Refuse node tables the compiled tree walk could leave or loop in.

    scikit-learn stores children after their parent; requiring that (and
    valid feature indices) keeps a damaged or hand-made file from making
    the C code read outside the table.
    """
    index = np.arange(len(nodes))
    left, right = nodes["left_child"], nodes["right_child"]
    leaf = left == -1
    inner = ~leaf
    ok = (
        (right[leaf] == -1).all()
        and (left[inner] > index[inner]).all()
        and (right[inner] > index[inner]).all()
        and (left[inner] < len(nodes)).all()
        and (right[inner] < len(nodes)).all()
        and (nodes["feature"][inner] >= 0).all()
        and (nodes["feature"][inner] < n_features).all()
    )
    if not ok:
        raise FileFormatError(f"{path}: tree {k} has an invalid node table")
