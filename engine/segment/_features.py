"""Multiscale voxel features for pixel classification (ilastik's feature set).

Every feature is a filter response at a *physical* scale: a sigma in the
unit of the voxel spacing becomes ``sigma / spacing`` voxels per axis, and
derivatives are taken in physical units, so an anisotropic stack and an
isotropic one of the same sample give comparable values. Derivatives are
scale-normalised (multiplied by ``sigma ** order``) so that values do not
depend on the unit (micrometres or nanometres).

The same code serves whole volumes and blocks: :func:`_block_features`
computes features on a block grown by :func:`feature_halo` voxels and
keeps only its core, which then equals the whole-volume result.
"""

import numpy as np
from scipy import ndimage as ndi

from .._errors import InvalidInputError
from .._validate import check_intensity_image, check_spacing

#: Feature groups, in output order within each sigma. ``intensity`` is
#: sigma-free and comes first; ``hessian`` and ``structure`` give three
#: eigenvalues each (ascending).
FEATURES = ("intensity", "gaussian", "dog", "gradient", "log", "hessian", "structure")

#: Default scales (micrometres) when the spacing is known: from membrane-
#: thin detail to the size of a nucleus.
DEFAULT_SIGMAS_PHYSICAL = (0.5, 1.0, 2.0, 3.5)
#: Default scales (voxels) when no spacing is given.
DEFAULT_SIGMAS_VOXELS = (1.0, 2.0, 4.0, 7.0)

# Gaussians are truncated at this many sigmas (scipy's default is 4; 3
# keeps 99.7 % of the mass and cuts the halo and filter cost by a quarter).
_TRUNCATE = 3.0
# Difference of Gaussians: G(sigma) - G(_DOG_RATIO * sigma).
_DOG_RATIO = 1.6
# Structure tensor: gradients at sigma, averaged over _ST_RATIO * sigma
# (ilastik's outer scale is half the inner one).
_ST_RATIO = 0.5
_EIGEN = ("hessian", "structure")
# Voxels per chunk of the closed-form eigenvalue computation (float32
# temporaries stay near 50 MB).
_EIGEN_CHUNK = 1 << 20
# Percentiles that map intensities to about [0, 1]; robust to hot pixels.
_PERCENTILES = (0.5, 99.5)
# At most this many voxels are read to estimate the percentiles.
_PERCENTILE_SAMPLES = 4_000_000


def default_sigmas(spacing):
    """Return the default sigmas: physical if ``spacing`` is known, else voxels.

    >>> default_sigmas(None)
    (1.0, 2.0, 4.0, 7.0)
    """
    return DEFAULT_SIGMAS_VOXELS if spacing is None else DEFAULT_SIGMAS_PHYSICAL


def check_features(features):
    """Return ``features`` as a tuple of known names in canonical order.

    >>> check_features(["gaussian", "intensity"])
    ('intensity', 'gaussian')
    """
    if isinstance(features, str):
        features = (features,)
    features = tuple(features)
    unknown = [f for f in features if f not in FEATURES]
    if unknown or not features:
        valid = ", ".join(repr(f) for f in FEATURES)
        raise InvalidInputError(
            f"features must be a non-empty selection of {valid}, was {features!r}"
        )
    return tuple(f for f in FEATURES if f in features)


def check_sigmas(sigmas):
    """Return ``sigmas`` as a sorted tuple of positive floats.

    >>> check_sigmas([2, 0.5])
    (0.5, 2.0)
    """
    if np.isscalar(sigmas):
        sigmas = (sigmas,)
    try:
        values = tuple(sorted(float(s) for s in sigmas))
    except (TypeError, ValueError):
        raise InvalidInputError(f"sigmas must be numbers, was {sigmas!r}") from None
    if not values or not all(np.isfinite(v) and v > 0 for v in values):
        raise InvalidInputError(
            f"sigmas must be one or more values > 0, was {sigmas!r}"
        )
    return values


def feature_names(sigmas, features=FEATURES):
    """Names of the feature channels, in the order of :func:`multiscale_features`.

    Parameters
    ----------
    sigmas : sequence of float
        Scales, in the unit of the spacing (voxels when there is none).
    features : sequence of str
        Feature groups among :data:`FEATURES`.

    Returns
    -------
    list of str

    Examples
    --------
    >>> feature_names([1, 2], ["intensity", "gaussian", "hessian"])[:5]
    ['intensity', 'gaussian_1', 'hessian0_1', 'hessian1_1', 'hessian2_1']
    """
    sigmas = check_sigmas(sigmas)
    features = check_features(features)
    names = ["intensity"] if "intensity" in features else []
    for sigma in sigmas:
        tag = f"{sigma:g}"
        for feature in (f for f in features if f != "intensity"):
            if feature in _EIGEN:
                names.extend(f"{feature}{k}_{tag}" for k in range(3))
            else:
                names.append(f"{feature}_{tag}")
    return names


def check_image(image, *, name="image"):
    """One grayscale intensity volume as 3D (see ``check_intensity_image``).

    >>> check_image(np.zeros((4, 5))).shape
    (1, 4, 5)
    """
    return check_intensity_image(image, name=name)


def robust_range(image):
    """Robust ``(low, high)`` intensities (0.5th and 99.5th percentiles).

    Computed once per volume (on at most a few million evenly spread
    voxels) and passed to every block, so blockwise features equal
    whole-volume features.

    >>> robust_range(np.arange(1001.0))
    (5.0, 995.0)
    """
    flat = np.asarray(image).reshape(-1)
    step = max(1, flat.size // _PERCENTILE_SAMPLES)
    sample = flat[::step]
    if sample.dtype.kind == "f" and not np.isfinite(sample).all():
        raise InvalidInputError("image contains NaN or infinite values")
    low, high = np.percentile(sample, _PERCENTILES)
    if not high > low:  # flat image: avoid a division by zero
        high = low + 1.0
    return float(low), float(high)


def feature_halo(sigmas, features, spacing):
    """Voxels per axis a block must be grown by so its core features are exact.

    >>> feature_halo([1.0], ["gaussian"], (1.0, 1.0, 1.0))
    (4, 4, 4)
    """
    sigmas = check_sigmas(sigmas)
    features = check_features(features)
    spacing = check_spacing(spacing)
    halo = np.zeros(3, dtype=int)
    for sigma in sigmas:
        for axis, step in enumerate(spacing):
            radius = _radius(sigma / step)
            need = [0]
            if "gaussian" in features:
                need.append(radius)
            if "dog" in features:
                need.append(_radius(_DOG_RATIO * sigma / step))
            if "gradient" in features:
                need.append(radius + 1)
            if "log" in features or "hessian" in features:
                need.append(radius + 2)
            if "structure" in features:
                need.append(radius + 1 + _radius(_ST_RATIO * sigma / step))
            halo[axis] = max(halo[axis], max(need))
    return tuple(int(h) + 1 for h in halo)  # +1: a margin for rounding


def multiscale_features(
    image,
    *,
    spacing=None,
    sigmas=None,
    features=FEATURES,
    intensity_range=None,
    dtype=np.float32,
):
    """Stack of filter responses at several physical scales.

    Parameters
    ----------
    image : (Z, Y, X) or (Y, X) array
        One intensity channel.
    spacing : float or (dz, dy, dx), optional
        Voxel size. Without it, sigmas are in voxels.
    sigmas : sequence of float, optional
        Scales in the unit of ``spacing``; each becomes ``sigma / spacing``
        voxels per axis. Default (0.5, 1, 2, 3.5) with a spacing,
        (1, 2, 4, 7) voxels without.
    features : sequence of str
        Any of ``"intensity"`` (the normalised image), ``"gaussian"``
        (smoothing), ``"dog"`` (difference of Gaussians, sigma and 1.6
        sigma), ``"gradient"`` (gradient magnitude), ``"log"`` (Laplacian
        of Gaussian), ``"hessian"`` (the 3 Hessian eigenvalues, ascending;
        tubes and sheets), ``"structure"`` (the 3 structure-tensor
        eigenvalues; texture and edges).
    intensity_range : (low, high), optional
        Intensities mapped to 0 and 1 before filtering. Default: the 0.5th
        and 99.5th percentiles of ``image``. Pass the whole volume's range
        when computing features of a part of it.
    dtype : dtype
        Output type.

    Returns
    -------
    (n_features, Z, Y, X) array
        Channels named by :func:`feature_names` (a 2D image gives Z = 1).

    Examples
    --------
    >>> image = np.zeros((8, 16, 16)); image[3:5, 6:10, 6:10] = 1
    >>> stack = multiscale_features(image, spacing=(2, 1, 1), sigmas=[1, 2])
    >>> stack.shape
    (21, 8, 16, 16)
    >>> len(feature_names([1, 2]))
    21
    """
    volume = check_image(image)
    sigmas = check_sigmas(default_sigmas(spacing) if sigmas is None else sigmas)
    features = check_features(features)
    spacing = check_spacing(spacing)
    if intensity_range is None:
        intensity_range = robust_range(volume)
    n = len(feature_names(sigmas, features))
    out = np.empty((n,) + volume.shape, dtype=dtype)
    core = tuple(slice(0, s) for s in volume.shape)
    for k, values in enumerate(
        _block_features(volume, core, spacing, sigmas, features, intensity_range)
    ):
        out[k] = values
    return out


def _radius(sigma_voxels):
    # scipy.ndimage's kernel radius for a Gaussian of this sigma
    return int(_TRUNCATE * float(sigma_voxels) + 0.5)


def _block_features(block, core, spacing, sigmas, features, value_range):
    """Yield each feature of ``block`` cropped to ``core`` (slices in block).

    ``block`` is a part of a volume grown by :func:`feature_halo` (clipped
    at the volume's edges, so edge handling matches the whole volume).
    Arrays as large as the block live only briefly; what is yielded has
    the core's shape.
    """
    low, high = value_range
    image = np.asarray(block, dtype=np.float32)
    image = (image - np.float32(low)) * np.float32(1.0 / (high - low))
    if not np.isfinite(image).all():
        raise InvalidInputError("image contains NaN or infinite values")
    if "intensity" in features:
        yield image[core]
    full_image, full_core = image, core
    for sigma in sigmas:
        # Work on the core grown by this sigma's own halo only: small
        # scales then cost little more than the core itself.
        image, core = _crop_to_halo(
            full_image, full_core, feature_halo([sigma], features, spacing)
        )
        voxels = [sigma / step for step in spacing]
        smooth = _gaussian(image, voxels)
        if "gaussian" in features:
            yield smooth[core]
        if "dog" in features:
            wide = _gaussian(image, [_DOG_RATIO * v for v in voxels])
            wide -= smooth
            wide *= -1
            yield wide[core]
            del wide
        needs_gradient = {"gradient", "log", "hessian", "structure"} & set(features)
        if not needs_gradient:
            continue
        # first derivatives in physical units, scale-normalised
        grads = [_derivative(smooth, axis, spacing[axis], sigma) for axis in range(3)]
        del smooth
        if "gradient" in features:
            yield np.sqrt(sum(g[core] ** 2 for g in grads))
        if {"log", "hessian"} & set(features):
            hess = _hessian(grads, core, spacing, sigma)
            if "log" in features:
                yield hess[0] + hess[3] + hess[5]
            if "hessian" in features:
                yield from _eigenvalues(hess)
            del hess
        if "structure" in features:
            outer = [_ST_RATIO * v for v in voxels]
            tensor = [
                _gaussian(grads[i] * grads[j], outer)[core]
                for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))
            ]
            yield from _eigenvalues(tensor)
            del tensor
        del grads


def _crop_to_halo(image, core, halo):
    """Crop ``image`` to ``core`` grown by ``halo``; return it and the new core."""
    grown = tuple(
        slice(max(c.start - h, 0), min(c.stop + h, n))
        for c, h, n in zip(core, halo, image.shape)
    )
    inner = tuple(
        slice(c.start - g.start, c.stop - g.start) for c, g in zip(core, grown)
    )
    return image[grown], inner


def _gaussian(image, sigma_voxels):
    return ndi.gaussian_filter(image, sigma_voxels, mode="reflect", truncate=_TRUNCATE)


def _derivative(values, axis, step, sigma):
    """Central difference along ``axis`` in physical units, times ``sigma``."""
    if values.shape[axis] < 2:  # a single plane has no slope along its normal
        return np.zeros_like(values)
    grad = np.gradient(values, step, axis=axis)
    grad *= np.float32(sigma)
    return grad


def _hessian(grads, core, spacing, sigma):
    """Hessian components (zz, zy, zx, yy, yx, xx) on ``core``.

    Second derivatives are differences of the first ones; they are taken
    on the core grown by one voxel only, which is all a central
    difference needs, to keep the temporaries small.
    """
    shape = grads[0].shape
    grown = tuple(
        slice(max(c.start - 1, 0), min(c.stop + 1, n)) for c, n in zip(core, shape)
    )
    inner = tuple(
        slice(c.start - g.start, c.stop - g.start) for c, g in zip(core, grown)
    )
    parts = []
    for i, j in ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2)):
        part = _derivative(grads[i][grown], j, spacing[j], sigma)
        parts.append(part[inner])
    return parts


def _eigenvalues(tensor):
    """Yield the 3 eigenvalues (ascending) of symmetric 3x3 fields.

    Closed form (trigonometric solution of the characteristic cubic),
    evaluated in float32 chunks: much faster and lighter than
    ``numpy.linalg.eigvalsh`` on millions of 3x3 matrices.
    """
    shape = tensor[0].shape
    flat = [np.ravel(t) for t in tensor]
    size = flat[0].size
    out = [np.empty(size, dtype=np.float32) for _ in range(3)]
    for start in range(0, size, _EIGEN_CHUNK):
        part = slice(start, min(start + _EIGEN_CHUNK, size))
        a, b, c, d, e, f = (np.asarray(t[part], dtype=np.float32) for t in flat)
        # matrix [[a, b, c], [b, d, e], [c, e, f]]
        q = (a + d + f) / 3.0
        off = b * b + c * c + e * e
        aq, dq, fq = a - q, d - q, f - q
        p = np.sqrt((aq * aq + dq * dq + fq * fq + 2.0 * off) / 6.0)
        det = aq * (dq * fq - e * e) - b * (b * fq - e * c) + c * (b * e - dq * c)
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(p > 0, det / (2.0 * p**3), 0.0)
        phi = np.arccos(np.clip(r, -1.0, 1.0)) / 3.0
        largest = q + 2.0 * p * np.cos(phi)
        smallest = q + 2.0 * p * np.cos(phi + 2.0 * np.pi / 3.0)
        middle = 3.0 * q - largest - smallest
        out[0][part] = smallest
        out[1][part] = middle
        out[2][part] = largest
    for values in out:
        yield values.reshape(shape)
