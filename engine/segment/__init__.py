"""Segmentation: from an intensity volume to a label volume.

Every method ends in the same uint32 label volume (0 = background) and
takes physical sizes, converted per axis with the voxel spacing
``(dz, dy, dx)``. The heavy parts (scikit-learn, cellpose and torch)
load only when their function is first used, so ``import engine.segment``
stays light.

Functions
---------
segment_threshold
    Manual or Otsu threshold (whole volume or per slice), hole filling,
    physical volume range, optional watershed split of touching objects.
threshold_mask, fill_holes, filter_by_volume, split_touching, postprocess_mask,
absorb_small_objects
    The steps of ``segment_threshold``, usable on their own.
multiscale_features, robust_range, PixelClassifier, segment_forest
    Random-forest pixel classification from sparse scribbles
    (1 = foreground, 2 = background), predicted blockwise; classifiers
    save to a file that loads without executing code.
segment_cellpose, shipped_model_path
    Cellpose 3D (extra ``cellpose``) with every parameter of Cellpose's
    own ``eval``; runs offline on the small model shipped with Plexus.
training_crops, train_cellpose
    Train a Cellpose model on a user's labelled z-stack (YX, YZ and XZ
    crops rescaled by the anisotropy).
stitch_slices
    IoU stitching of a stack of 2D labels into 3D labels (Cellpose's
    ``stitch_threshold``), for any 2D segmenter.
average_precision
    Instance-segmentation accuracy against ground truth.
"""

import importlib

# public name -> private module that defines it (imported on first use)
_EXPORTS = {
    "segment_threshold": "_threshold",
    "threshold_mask": "_threshold",
    "fill_holes": "_threshold",
    "filter_by_volume": "_threshold",
    "split_touching": "_threshold",
    "postprocess_mask": "_threshold",
    "absorb_small_objects": "_threshold",
    "multiscale_features": "_features",
    "feature_names": "_features",
    "robust_range": "_features",
    "PixelClassifier": "_forest",
    "segment_forest": "_forest",
    "segment_cellpose": "_cellpose",
    "shipped_model_path": "_cellpose",
    "training_crops": "_cellpose_train",
    "train_cellpose": "_cellpose_train",
    "stitch_slices": "_stitch",
    "average_precision": "_metrics",
    "match_labels": "_metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        module = importlib.import_module(f"{__name__}.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return __all__
