"""The one module that knows Cellpose internals.

Plexus ships a compact U-Net that plugs into Cellpose 4 as its ``net``:
Cellpose's own tiling, 3D flow averaging, dynamics and training loop run
unchanged around it, so the result is a genuine Cellpose segmentation that
needs no download and runs in seconds on a CPU.  Everything that depends on
how ``cellpose.models.CellposeModel`` is built lives here, pinned to the
tested versions, so a Cellpose upgrade touches a single file.

Model files in the Plexus format are a plain dictionary saved with
``torch.save`` (tensors, numbers and strings only) and are read back with
``torch.load(..., weights_only=True)``, which cannot execute code.
"""

import logging
import os
import warnings
from pathlib import Path

from .._errors import FileFormatError, MissingExtraError, MissingFileError, require

logger = logging.getLogger(__name__)

#: Cellpose versions this module was tested against; other 4.x versions
#: only log a warning, because the attributes used here are stable in 4.x.
TESTED_CELLPOSE = ("4.2.1.1",)

#: Marker stored in every Plexus model file, used to tell it from a
#: Cellpose-SAM state dict by content rather than by file name.
FORMAT_NAME = "plexus-cellpose-unet"
FORMAT_VERSION = 1

#: Architecture of a freshly built net (the shipped model is wider:
#: channels 24, 48, 72, 96; see its JSON card).
DEFAULT_HPARAMS = {"nchan": 3, "channels": (16, 32, 48, 64), "nout": 3}

# Tile size handed to Cellpose; Cellpose-SAM only accepts 256, and the U-Net
# is fully convolutional, so one size serves both kinds of model.
BSIZE = 256

_version_checked = False


def _check_version():
    """Import cellpose (raising MissingExtraError) and warn on untested versions."""
    global _version_checked
    cellpose = require("cellpose", "cellpose")
    if not _version_checked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            found = version("cellpose")
        except PackageNotFoundError:  # pragma: no cover - odd installs
            found = getattr(cellpose, "__version__", "unknown")
        if not found.startswith("4."):
            raise MissingExtraError(
                f"Plexus needs cellpose 4.x, found {found}; install it with "
                "`pip install 'plexus3d[cellpose]'`"
            )
        if found not in TESTED_CELLPOSE:
            logger.warning(
                "cellpose %s is untested with Plexus (tested: %s); "
                "results may differ", found, ", ".join(TESTED_CELLPOSE)
            )
        _version_checked = True
    return cellpose


def _torch():
    return require("torch", "cellpose")


def build_net(hparams=None):
    """Return a new, randomly initialised :class:`PlexusUNet`.

    Parameters
    ----------
    hparams : dict, optional
        ``nchan`` (input channels, 3 as Cellpose feeds), ``channels`` (the
        widths of the four levels) and ``nout`` (3: dy, dx, cell
        probability). Defaults to :data:`DEFAULT_HPARAMS`.

    Returns
    -------
    PlexusUNet

    Examples
    --------
    >>> net = build_net()  # doctest: +SKIP
    >>> net.backbone  # doctest: +SKIP
    'plexus_unet'
    """
    _torch()
    cls = _net_class()
    params = dict(DEFAULT_HPARAMS)
    params.update(hparams or {})
    params["channels"] = tuple(int(c) for c in params["channels"])
    return cls(**params)


_NET_CLASS = None


def _net_class():
    """Define the nn.Module subclass on first use so torch loads lazily."""
    global _NET_CLASS
    if _NET_CLASS is not None:
        return _NET_CLASS
    torch = _torch()
    from torch import nn
    import torch.nn.functional as F

    class Block(nn.Module):
        """Residual unit: two 3x3 conv + BN, ReLU, 1x1 projection shortcut."""

        def __init__(self, cin, cout):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
                nn.ReLU(inplace=True),
                nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                nn.BatchNorm2d(cout),
            )
            self.skip = nn.Conv2d(cin, cout, 1, bias=False) if cin != cout else nn.Identity()

        def forward(self, x):
            return F.relu(self.body(x) + self.skip(x))

    class PlexusUNet(nn.Module):
        """Compact residual U-Net with Cellpose's network interface.

        A full-resolution 3x3 convolution followed by 2 x 2 average pooling
        halves the resolution first, so the U-Net works at half size (four
        times cheaper, twice the receptive field, which suits nuclei tens
        of pixels wide); the three outputs (dy, dx, cell probability) are
        upsampled back bilinearly, since flows are smooth. Pooling 2 x 2
        blocks puts each half-size pixel at the centre of its block, which
        is where bilinear upsampling expects it; a stride-2 convolution
        would shift every flow by half a pixel. Height and width must be
        multiples of 16 (Cellpose's 256 tiles are).
        """

        def __init__(self, nchan=3, channels=(16, 32, 48, 64), nout=3):
            super().__init__()
            self.hparams = {"nchan": int(nchan), "channels": tuple(channels),
                            "nout": int(nout)}
            self._dtype = torch.float32
            self.backbone = "plexus_unet"
            self.nout = nout
            c = list(channels)
            self.stem = nn.Sequential(
                nn.Conv2d(nchan, c[0], 3, padding=1, bias=False),
                nn.BatchNorm2d(c[0]),
                nn.ReLU(inplace=True),
                nn.AvgPool2d(2),
            )
            self.down = nn.ModuleList(
                [Block(c[0], c[0])] + [Block(c[i - 1], c[i]) for i in range(1, len(c))]
            )
            self.up = nn.ModuleList(
                [Block(c[i + 1] + c[i], c[i]) for i in range(len(c) - 1)]
            )
            self.head = nn.Conv2d(c[0], nout, 1)
            # Cellpose reads these two (train_seg sets diam_labels)
            self.diam_mean = nn.Parameter(torch.tensor([30.0]), requires_grad=False)
            self.diam_labels = nn.Parameter(torch.tensor([30.0]), requires_grad=False)

        @property
        def dtype(self):
            return self._dtype

        @dtype.setter
        def dtype(self, value):
            if value != self._dtype:
                self.to(value)
                self._dtype = value

        @property
        def device(self):
            return next(self.parameters()).device

        def forward(self, x):
            size = x.shape[-2:]
            nchan = self.hparams["nchan"]
            if x.shape[1] != nchan:
                # Cellpose's 3D path passes the stack's own channel count while
                # training pads to 3 with zeros; do the same here
                if x.shape[1] > nchan:
                    x = x[:, :nchan]
                else:
                    pad = x.new_zeros((x.shape[0], nchan - x.shape[1], *size))
                    x = torch.cat([x, pad], dim=1)
            h = self.stem(x)
            skips = []
            for i, level in enumerate(self.down):
                if i > 0:
                    h = F.max_pool2d(h, 2)
                h = level(h)
                skips.append(h)
            for i in range(len(self.up) - 1, -1, -1):
                h = F.interpolate(h, size=skips[i].shape[-2:], mode="nearest")
                h = self.up[i](torch.cat([h, skips[i]], dim=1))
            y = F.interpolate(self.head(h), size=size, mode="bilinear",
                              align_corners=False)
            # second output: Cellpose's 256-long style vector, unused in v4
            return y, torch.zeros((x.shape[0], 256), device=x.device, dtype=y.dtype)

        def save_model(self, filename):
            """Save weights and architecture to ``filename`` (Plexus format).

            Floating-point tensors are stored as float16 (half the file;
            loading casts back to float32, a negligible change for inference).
            """
            state = {}
            for key, value in self.state_dict().items():
                value = value.detach().cpu()
                state[key] = value.to(torch.float16) if value.is_floating_point() else value
            torch.save(
                {
                    "format": FORMAT_NAME,
                    "format_version": FORMAT_VERSION,
                    "nchan": self.hparams["nchan"],
                    "channels": list(self.hparams["channels"]),
                    "nout": self.hparams["nout"],
                    "state_dict": state,
                },
                os.fspath(filename),
            )

        def load_model(self, filename, device=None):
            """Load weights saved by :meth:`save_model` (no code execution)."""
            payload = _read_payload(filename)
            # load_state_dict copies into the float32 parameters, casting
            self.load_state_dict(payload["state_dict"], strict=True)
            if device is not None:
                self.to(device)
            return self

    _NET_CLASS = PlexusUNet
    return PlexusUNet


def _load_weights(path):
    """The file's tensors, loaded without running code (``weights_only``)."""
    torch = _torch()
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(f"model file not found: {path}")
    try:
        # mmap: a 1 GB Cellpose-SAM file is inspected without reading it all
        return torch.load(os.fspath(path), map_location="cpu", weights_only=True,
                          mmap=True)
    except Exception as err:
        raise FileFormatError(
            f"model file {path} cannot be read as a Plexus or Cellpose-SAM "
            f"model ({type(err).__name__}: {err})"
        ) from None


def _read_payload(path):
    payload = _load_weights(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise FileFormatError(f"model file {path} is not in the Plexus format")
    if int(payload.get("format_version", -1)) > FORMAT_VERSION:
        raise FileFormatError(
            f"model file {path} has format version {payload['format_version']}, "
            f"this Plexus reads up to {FORMAT_VERSION}; update Plexus"
        )
    return payload


def model_kind(path):
    """Tell a Plexus U-Net file from a Cellpose 4 (SAM) file by its content.

    Parameters
    ----------
    path : str or pathlib.Path
        The model file.

    Returns
    -------
    str
        ``"plexus"`` or ``"cellpose"``.

    Raises
    ------
    MissingFileError
        If the file does not exist.
    FileFormatError
        If it is neither kind (e.g. a Cellpose 3 model).

    Examples
    --------
    >>> from engine.segment import shipped_model_path
    >>> model_kind(shipped_model_path())  # doctest: +SKIP
    'plexus'
    """
    payload = _load_weights(path)
    if isinstance(payload, dict) and payload.get("format") == FORMAT_NAME:
        return "plexus"
    if isinstance(payload, dict) and "W2" in payload:
        # Cellpose's own test for a CP4 (transformer) state dict
        return "cellpose"
    raise FileFormatError(
        f"model file {path} is neither a Plexus model nor a Cellpose 4 "
        "(Cellpose-SAM) model; Cellpose 3 models are not supported"
    )


def load_net(path):
    """Return a :class:`PlexusUNet` with the weights stored in ``path``."""
    payload = _read_payload(path)
    try:
        net = build_net({k: payload[k] for k in ("nchan", "channels", "nout")})
        net.load_state_dict(payload["state_dict"], strict=True)
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise FileFormatError(
            f"model file {path} does not match this Plexus version's network "
            f"({type(err).__name__}: {str(err)[:200]})"
        ) from None
    net.eval()
    return net


def wrap_net(net, name="plexus"):
    """Return a ``cellpose.models.CellposeModel`` whose ``net`` is ``net``.

    ``CellposeModel.__init__`` always loads a transformer (and downloads
    Cellpose-SAM when no file is given), so the object is created with
    ``__new__`` and given exactly the attributes ``eval`` reads.
    """
    _check_version()
    torch = _torch()
    from cellpose.models import CellposeModel

    model = CellposeModel.__new__(CellposeModel)
    model.device = torch.device("cpu")
    model.gpu = False
    model.pretrained_model = str(name)
    model.backbone = net.backbone
    model.net = net.to(model.device)
    model.net.eval()
    return model


def load_cellpose_model(path):
    """Return a ready ``CellposeModel`` for a Plexus or Cellpose-SAM file.

    Parameters
    ----------
    path : str or pathlib.Path
        A Plexus U-Net file or a Cellpose 4 weights file (e.g. ``cpsam``).

    Returns
    -------
    cellpose.models.CellposeModel

    Examples
    --------
    >>> from engine.segment import shipped_model_path
    >>> m = load_cellpose_model(shipped_model_path())  # doctest: +SKIP
    """
    _check_version()
    path = Path(path)
    kind = model_kind(path)
    if kind == "plexus":
        return wrap_net(load_net(path), name=path)
    from cellpose.models import CellposeModel

    # a real Cellpose-SAM file: Cellpose's normal path, on the CPU
    return CellposeModel(pretrained_model=os.fspath(path), gpu=False)


def run_eval(model, image, *, return_cellprob=False, **kwargs):
    """Call ``model.eval`` with Cellpose 4's signature; return the masks.

    With ``return_cellprob``, also the cell-probability logits (one array,
    or one per image for a list), at the image's own resolution.
    """
    normalize = kwargs.pop("normalize", True)
    # a fresh dict: Cellpose mutates its module-level defaults when given a bool
    normalize = dict(normalize) if isinstance(normalize, dict) else {"normalize": bool(normalize)}
    masks, flows, _ = model.eval(image, normalize=normalize, bsize=BSIZE, **kwargs)
    if not return_cellprob:
        return masks
    cellprob = [f[2] for f in flows] if isinstance(image, list) else flows[2]
    return masks, cellprob


def train_net(net, images, masks, *, n_epochs, learning_rate, batch_size, bsize,
              nimg_per_epoch=None, weight_decay=1e-4, workdir):
    """Train ``net`` in place with ``cellpose.train.train_seg``.

    ``images`` are 2D float arrays, ``masks`` the matching 2D labels.
    Cellpose writes intermediate files under ``workdir``; the caller saves
    the final weights. Returns the per-epoch training losses.
    """
    _check_version()
    from cellpose import train

    with warnings.catch_warnings():
        # train_seg autocasts to the net's float32, which CPU autocast
        # declines with a warning; that fallback is exactly what we want
        warnings.filterwarnings("ignore", message=".*autocast.*")
        _, losses, _ = train.train_seg(
            net,
            train_data=list(images),
            train_labels=list(masks),
            batch_size=batch_size,
            learning_rate=learning_rate,
            n_epochs=n_epochs,
            weight_decay=weight_decay,
            normalize={"normalize": True},
            bsize=bsize,
            nimg_per_epoch=nimg_per_epoch,
            save_path=os.fspath(workdir),
            save_every=10**9,
            min_train_masks=1,
            model_name="plexus_training",
        )
    net.eval()
    return losses
