"""Networks of labelled objects: through connecting objects or by proximity.

The central object is :class:`Network` (node table, edge table, spacing);
its ``graph`` is a networkx ``Graph``. Statistics, communities and
overlays take that graph.
"""

from ._communities import communities, modularity
from ._connect import connect
from ._core import Network
from ._overlays import attribute_overlay, community_overlay, degree_overlay
from ._proximity import proximity, surface_proximity
from ._radial import edge_lengths, radial_distribution
from ._regions import search_regions
from ._stats import degree_distribution, network_statistics, node_centralities

__all__ = [
    "Network", "connect", "proximity", "surface_proximity", "search_regions",
    "network_statistics", "node_centralities", "degree_distribution",
    "communities", "modularity", "radial_distribution", "edge_lengths",
    "attribute_overlay", "degree_overlay", "community_overlay",
]
