"""Train a Cellpose model on a user's labelled z-stack.

Cellpose segments a volume by running a 2D network on its YX, ZY and ZX
planes, so it trains on 2D crops taken in all three orientations, the two
side views stretched along z by the anisotropy so that nuclei look as
round as they will at inference (Cellpose's ``gui/make_train.py`` recipe).
Training itself is Cellpose's own ``train_seg`` (its augmentations and flow
loss) applied to the compact Plexus U-Net.
"""

import os
import tempfile
from pathlib import Path

import numpy as np

from .._errors import InvalidInputError, MissingFileError
from .._validate import as_volume, check_count, check_labels, check_same_shape

# (name, axes order bringing the plane axes last) for the three orientations
_VIEWS = (("YX", (0, 1, 2)), ("ZY", (2, 0, 1)), ("ZX", (1, 0, 2)))


def _check_anisotropy(anisotropy):
    try:
        value = float(anisotropy)
    except (TypeError, ValueError):
        raise InvalidInputError(f"anisotropy must be a number, was {anisotropy!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise InvalidInputError(f"anisotropy must be > 0, was {anisotropy!r}")
    return value


def training_crops(image, labels, *, anisotropy=1.0, crop_size=256, n_per_axis=20,
                   seed=0):
    """Cut 2D training crops in YX, ZY and ZX from a labelled z-stack.

    Parameters
    ----------
    image : array_like
        Intensity volume (z, y, x).
    labels : array_like
        Label volume of the same shape, 0 = background.
    anisotropy : float
        z step over the in-plane pixel size (``dz / dy``); ZY and ZX planes
        are resized along z by this factor (linear for the image, nearest
        for the labels), as Cellpose does at inference.
    crop_size : int
        Largest crop side in pixels; smaller planes are kept whole.
    n_per_axis : int
        Planes drawn per orientation (among planes that contain objects).
    seed : int
        Seed of the random plane and crop choice.

    Returns
    -------
    images : list of ndarray
        2D float32 crops.
    masks : list of ndarray
        Matching 2D uint32 labels, renumbered so that an object cut in two
        by the crop becomes two objects.

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((10, 32, 32), np.float32); lab = np.zeros(img.shape, np.uint32)
    >>> lab[3:7, 10:20, 10:20] = 1; img[lab > 0] = 1
    >>> ims, ms = training_crops(img, lab, anisotropy=2.0, n_per_axis=2)
    >>> [m.shape for m in ms]
    [(32, 32), (32, 32), (20, 32), (20, 32), (20, 32), (20, 32)]
    """
    from skimage.measure import label as relabel
    from skimage.transform import resize

    image = as_volume(image, name="image")
    labels = check_labels(labels, name="labels")
    check_same_shape(image, labels, names=("image", "labels"))
    anisotropy = _check_anisotropy(anisotropy)
    crop_size = check_count(crop_size, name="crop_size", minimum=8)
    n_per_axis = check_count(n_per_axis, name="n_per_axis")
    rng = np.random.default_rng(seed)

    images, masks = [], []
    for name, order in _VIEWS:
        img = image.transpose(order)
        lab = labels.transpose(order)
        has_objects = np.flatnonzero(lab.reshape(len(lab), -1).any(axis=1))
        pool = has_objects if len(has_objects) else np.arange(len(lab))
        picks = np.sort(rng.permutation(pool)[:n_per_axis])
        for k in picks:
            im2, lb2 = img[k].astype(np.float32), lab[k]
            if name != "YX" and anisotropy != 1.0:
                new_shape = (max(1, int(round(anisotropy * im2.shape[0]))), im2.shape[1])
                im2 = resize(im2, new_shape, order=1, preserve_range=True,
                             anti_aliasing=False).astype(np.float32)
                lb2 = resize(lb2, new_shape, order=0, preserve_range=True,
                             anti_aliasing=False).astype(lb2.dtype)
            ly = int(rng.integers(0, im2.shape[0] - crop_size + 1)) if im2.shape[0] > crop_size else 0
            lx = int(rng.integers(0, im2.shape[1] - crop_size + 1)) if im2.shape[1] > crop_size else 0
            window = (slice(ly, ly + crop_size), slice(lx, lx + crop_size))
            images.append(np.ascontiguousarray(im2[window]))
            # same-valued connected pixels form one object, so a cut object splits
            masks.append(relabel(lb2[window], background=0, connectivity=1).astype(np.uint32))
    return images, masks


def train_cellpose(image, labels, *, anisotropy=1.0, out, base_model=None,
                   n_epochs=100, learning_rate=0.002, batch_size=8, seed=0,
                   progress=None, crop_size=256, n_per_axis=40, bsize=192,
                   nimg_per_epoch=None, weight_decay=1e-4, channels=None):
    """Train (or fine-tune) a Plexus Cellpose model on a labelled z-stack.

    Parameters
    ----------
    image, labels : array_like
        Intensity and label volumes (z, y, x) of the same shape.
    anisotropy : float
        ``dz / dy`` of the volume, used to stretch ZY and ZX crops.
    out : str or pathlib.Path
        Where to write the model; written to a temporary file in the same
        folder first and renamed, so a failed run never leaves half a file.
    base_model : str or pathlib.Path, optional
        A Plexus model file to fine-tune; None trains a new U-Net.
        (Cellpose-SAM fine-tuning needs a GPU and is not offered here.)
    n_epochs : int
        Cellpose epochs (warm-up over 10 epochs, halving steps at the end).
    learning_rate : float
        Peak AdamW learning rate.
    batch_size : int
        Crops per optimisation step.
    seed : int
        Seeds numpy and torch, and the choice of crops.
    progress : callable, optional
        ``progress(done, total)`` called once per optimisation step; raising
        from it cancels training (nothing is written).
    crop_size, n_per_axis : int
        Passed to :func:`training_crops`.
    bsize : int
        Side of the augmented patches Cellpose trains on (multiple of 16).
    nimg_per_epoch : int, optional
        Crops drawn per epoch; default all crops.
    weight_decay : float
        AdamW weight decay.
    channels : sequence of 4 int, optional
        Widths of the U-Net levels of a new model (default 16, 32, 48, 64);
        ignored when fine-tuning ``base_model``.

    Returns
    -------
    pathlib.Path
        ``out``.

    Examples
    --------
    >>> train_cellpose(img, lab, anisotropy=1.1, out="my_model.pt")  # doctest: +SKIP
    PosixPath('my_model.pt')
    """
    from . import _cellpose_net as cpnet

    cpnet._check_version()
    torch = cpnet._torch()
    out = Path(out)
    if not out.parent.is_dir():
        raise MissingFileError(f"out folder does not exist: {out.parent}")
    n_epochs = check_count(n_epochs, name="n_epochs")
    batch_size = check_count(batch_size, name="batch_size")
    bsize = check_count(bsize, name="bsize", minimum=16)
    if bsize % 16:
        raise InvalidInputError(f"bsize must be a multiple of 16, was {bsize}")
    try:
        learning_rate = float(learning_rate)
    except (TypeError, ValueError):
        raise InvalidInputError(f"learning_rate must be a number, was {learning_rate!r}") from None
    if not learning_rate > 0:
        raise InvalidInputError(f"learning_rate must be > 0, was {learning_rate!r}")

    images, masks = training_crops(image, labels, anisotropy=anisotropy,
                                   crop_size=crop_size, n_per_axis=n_per_axis, seed=seed)
    keep = [i for i, m in enumerate(masks) if m.any()]
    if not keep:
        raise InvalidInputError("labels: no training crop contains an object")
    images = [images[i] for i in keep]
    masks = [masks[i] for i in keep]

    np.random.seed(seed)
    torch.manual_seed(seed)
    if base_model is None:
        net = cpnet.build_net(None if channels is None else {"channels": channels})
    else:
        base_model = Path(base_model)
        if not base_model.is_file():
            raise MissingFileError(f"base_model file not found: {base_model}")
        if cpnet.model_kind(base_model) != "plexus":
            raise InvalidInputError(
                f"base_model {base_model} is a Cellpose-SAM model; only Plexus "
                "models can be fine-tuned here"
            )
        net = cpnet.load_net(base_model)

    per_epoch = len(images) if nimg_per_epoch is None else check_count(
        nimg_per_epoch, name="nimg_per_epoch")
    total = n_epochs * -(-per_epoch // batch_size)
    state = {"done": 0}

    def _tick(module, args):
        # train_seg has no callback; each training-mode forward is one step
        if module.training:
            state["done"] += 1
            progress(min(state["done"], total), total)

    hook = None
    if progress is not None:
        progress(0, total)
        hook = net.register_forward_pre_hook(_tick)
    try:
        with tempfile.TemporaryDirectory(prefix="plexus_cp_") as workdir:
            cpnet.train_net(net, images, masks, n_epochs=n_epochs,
                            learning_rate=learning_rate, batch_size=batch_size,
                            bsize=bsize, nimg_per_epoch=per_epoch,
                            weight_decay=weight_decay, workdir=workdir)
    finally:
        if hook is not None:
            hook.remove()

    fd, tmp = tempfile.mkstemp(prefix=out.name + ".", suffix=".tmp", dir=out.parent)
    os.close(fd)
    try:
        net.save_model(tmp)
        # mkstemp creates the file private (0600); give it the usual mode
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, out)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return out
