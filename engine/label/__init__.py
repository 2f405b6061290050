"""Labelling: connected components and per-label properties in one pass."""

from ._components import connected_components, remove_small_objects
from ._properties import label_properties

__all__ = ["connected_components", "remove_small_objects", "label_properties"]
