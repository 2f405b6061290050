"""Label colours shared by the slice, 3D and network views.

A label keeps the same colour in every view: colour index
``(label - 1) % 254 + 1`` into a glasbey palette (distinct neighbouring
hues, none close to black or white). Index 0 is the background
(transparent) and index 255 is kept for the selection (white).

>>> color_index(np.array([0, 1, 254, 255, 2**40]))
array([  0,   1, 254,   1,  32], dtype=uint8)
>>> label_color(1)
'#d60000'
"""

import colorcet
import numpy as np

N_COLORS = 254
SELECTED_INDEX = 255
SELECTED_COLOR = "#ffffff"
BACKGROUND = "#00000000"

#: 256 entries: transparent background, 254 glasbey colours, the selection.
PALETTE = [BACKGROUND, *colorcet.b_glasbey_bw_minc_20[:N_COLORS], SELECTED_COLOR]


def color_index(labels):
    """Palette index (uint8) of every label; 0 stays 0.

    Works on any integer array, uint64 ids included.
    """
    labels = np.asarray(labels)
    out = np.zeros(labels.shape, np.uint8)
    nonzero = labels != 0
    # Subtract in the label's own unsigned type: no float rounding for big ids.
    out[nonzero] = ((labels[nonzero] - 1) % N_COLORS + 1).astype(np.uint8)
    return out


def label_color(label):
    """Hex colour of one label (the background's is transparent)."""
    return PALETTE[int(color_index(np.array([label], np.uint64))[0])]


def label_rgb(labels):
    """(n, 3) uint8 RGB of the given labels, for per-cell colours in 3D."""
    table = np.array(
        [[0, 0, 0]] + [_hex_rgb(c) for c in PALETTE[1:]], dtype=np.uint8
    )
    return table[color_index(labels)]


def _hex_rgb(color):
    return [int(color[i:i + 2], 16) for i in (1, 3, 5)]
