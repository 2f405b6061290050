"""The organ network of the real frog segmentation (pyvista's frog tissues).

Two kinds of check:

* an independent oracle: at search radius 0, two organs are linked exactly
  when one connected vessel (or nerve) object touches both (26-adjacency).
  That is recomputed here with scipy only (``ndimage.label`` and a 3x3x3
  dilation of each organ in its bounding box) and must equal Plexus' edges;
* anatomy: pairs checked by eye in the data and known from frog anatomy:
  the optic nerve joins each eye's retina to the brain; the blood vessels
  join the liver to the heart (hepatic veins to the sinus venosus) and to
  the lungs; no vessel of this segmentation reaches the brain.
"""

import itertools

import numpy as np
import pytest
from scipy import ndimage

from engine import datasets, network

pytestmark = pytest.mark.slow

BLOOD, BRAIN, RETINA, HEART, LIVER, LUNG, NERVE = 1, 2, 4, 6, 10, 11, 12


def oracle_pairs(labels, connector):
    """Organ pairs that one connected ``connector`` object touches."""
    mask = labels == connector
    objects, _ = ndimage.label(mask, structure=np.ones((3, 3, 3)))
    organs = np.where(mask | np.isin(labels, [BLOOD, NERVE]), 0, labels)
    touching = {}
    for organ, box in enumerate(ndimage.find_objects(organs), start=0 + 1):
        if box is None:
            continue
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        near = ndimage.binary_dilation(organs[grown] == organ, structure=np.ones((3, 3, 3)))
        touching[organ] = set(np.unique(objects[grown][near])) - {0}
    return {
        (a, b) for a, b in itertools.combinations(sorted(touching), 2)
        if touching[a] & touching[b]
    }


def network_pairs(connector):
    vessels, nerves = ((connector,), ()) if connector == BLOOD else ((), (connector,))
    nodes, edges, spacing = datasets.frog_network_inputs(vessels=vessels, nerves=nerves)
    nodes[np.isin(nodes, [BLOOD, NERVE])] = 0      # only organs are nodes here
    net = network.connect(nodes, edges, search=0.0, spacing=spacing)
    return {(int(a), int(b)) for a, b in net.graph.edges}


@pytest.fixture(scope="module")
def frog():
    return datasets.frog_tissues()


@pytest.mark.parametrize("connector", [BLOOD, NERVE])
def test_touching_network_equals_independent_oracle(frog, connector):
    expected = oracle_pairs(frog.labels, connector)
    assert len(expected) > 5
    assert network_pairs(connector) == expected


def test_anatomy_of_the_demo_network(frog):
    nodes, edges, spacing = datasets.frog_network_inputs()
    net = network.connect(nodes, edges, search=3.0, spacing=spacing)
    graph = net.graph
    assert graph.has_edge(BRAIN, RETINA)        # optic nerve
    assert graph.has_edge(HEART, LIVER)         # hepatic veins
    assert graph.has_edge(LIVER, LUNG)
    blood_only = network_pairs(BLOOD)
    assert not any(BRAIN in pair for pair in blood_only)
    assert (BRAIN, RETINA) in network_pairs(NERVE)
