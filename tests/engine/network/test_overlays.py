"""Overlays on tiny hand-drawn label volumes with sparse uint64 ids."""

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from engine._errors import InvalidInputError
from engine.network._overlays import (
    attribute_overlay,
    community_overlay,
    degree_overlay,
)

A, B, C, D = 2**40 + 3, 2**40 + 7, 5, 2**63 + 1

NODES = np.array(
    [
        [[A, A, 0, B],
         [A, 0, 0, B]],
        [[0, C, C, 0],
         [D, 0, C, B]],
    ],
    dtype=np.uint64,
)


def test_values_painted_and_background_zero():
    out = attribute_overlay(NODES, {A: 4, B: 1, C: 2, D: 3})
    expected = np.array(
        [
            [[4, 4, 0, 1],
             [4, 0, 0, 1]],
            [[0, 2, 2, 0],
             [3, 0, 2, 1]],
        ]
    )
    np.testing.assert_array_equal(out, expected)
    assert out.dtype == np.uint8
    assert out.shape == NODES.shape


def test_missing_labels_read_zero_and_extra_labels_ignored():
    out = attribute_overlay(NODES, {A: 9, 12345: 7})
    np.testing.assert_array_equal(out, np.where(NODES == A, 9, 0))


def test_input_not_modified():
    before = NODES.copy()
    attribute_overlay(NODES, {A: 1})
    np.testing.assert_array_equal(NODES, before)


def test_dtype_fits_values_or_follows_request():
    assert attribute_overlay(NODES, {A: 300}).dtype == np.uint16
    assert attribute_overlay(NODES, {A: 2**33}).dtype == np.uint64
    assert attribute_overlay(NODES, {A: 3}, dtype=np.uint32).dtype == np.uint32
    with pytest.raises(InvalidInputError, match="does not fit"):
        attribute_overlay(NODES, {A: 300}, dtype=np.uint8)
    with pytest.raises(InvalidInputError, match="integer type"):
        attribute_overlay(NODES, {A: 3}, dtype=float)


def test_negative_values():
    nodes = np.array([[0, 5], [6, 6]], dtype=np.uint16)
    out = attribute_overlay(nodes, {5: -2, 6: 1})
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, [[0, -2], [1, 1]])
    with pytest.raises(InvalidInputError, match="2\\*\\*63"):
        attribute_overlay(NODES, {A: -1})


def test_two_dimensional_input_keeps_its_shape():
    nodes = np.array([[0, A], [B, B]], dtype=np.uint64)
    out = attribute_overlay(nodes, pd.Series({A: 1, B: 2}))
    np.testing.assert_array_equal(out, [[0, 1], [2, 2]])


def test_signed_labels_accepted():
    nodes = np.array([[0, 3], [4, 4]], dtype=np.int32)
    out = attribute_overlay(nodes, {3: 1, 4: 2})
    np.testing.assert_array_equal(out, [[0, 1], [2, 2]])


def test_all_background():
    out = attribute_overlay(np.zeros((2, 2), np.uint32), {1: 5})
    np.testing.assert_array_equal(out, 0)


@pytest.mark.parametrize("values", [{A: 1.5}, {A: True}, {"a": 1}, [1, 2]])
def test_bad_values(values):
    with pytest.raises(InvalidInputError):
        attribute_overlay(NODES, values)


def test_float_volume_rejected():
    with pytest.raises(InvalidInputError, match="integer labels"):
        attribute_overlay(NODES.astype(float), {A: 1})


def test_degree_overlay_isolated_nodes_read_zero():
    graph = nx.Graph([(A, B), (A, C)])
    graph.add_node(D)  # isolated: degree 0, indistinguishable from background
    out = degree_overlay(NODES, graph)
    np.testing.assert_array_equal(
        out,
        np.select([NODES == A, NODES == B, NODES == C], [2, 1, 1], 0),
    )
    assert out[1, 1, 0] == 0 and NODES[1, 1, 0] == D


def test_community_overlay():
    out = community_overlay(NODES, {A: 1, B: 1, C: 2, D: 3})
    np.testing.assert_array_equal(
        out,
        np.select([NODES == A, NODES == B, NODES == C, NODES == D], [1, 1, 2, 3], 0),
    )
    with pytest.raises(InvalidInputError, match=">= 1"):
        community_overlay(NODES, {A: 0, B: 1})
