"""The central object: a network of labelled objects and its tables."""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

#: Columns of ``edges.csv`` and ``nodes.csv``; other tools rely on them.
EDGE_COLUMNS = ("node_a", "node_b", "edge_id")
NODE_COLUMNS = ("label", "z", "y", "x", "voxels", "volume")


@dataclass(eq=False)
class Network:
    """Nodes (labelled objects) and the links found between them.

    Attributes
    ----------
    nodes : pandas.DataFrame
        One row per node: ``label``, ``voxels``, ``volume``, centroid
        ``z, y, x`` in physical units, bounding box ``z0 .. x1`` (voxels).
    edges : pandas.DataFrame
        One row per node pair per connecting object: ``node_a < node_b``
        and ``edge_id``; proximity networks add ``distance``.
    spacing : tuple of 3 floats
        Voxel size (dz, dy, dx) the network was measured with.
    method : str
        ``"connect"``, ``"proximity"`` or ``"surface"``.
    params : dict
        The physical parameters used (search radius, k, ...).
    edge_labels : ndarray or None
        Volume of edge objects, when asked for.
    """

    nodes: object
    edges: object
    spacing: tuple
    method: str = "connect"
    params: dict = field(default_factory=dict)
    edge_labels: object = None

    @cached_property
    def graph(self):
        """A networkx ``Graph``: one edge per linked pair.

        Nodes carry ``z, y, x, voxels, volume``; edges carry ``weight``
        (number of connecting objects), ``edge_ids`` (list) and ``length``
        (physical distance between the centroids).
        """
        import networkx as nx

        graph = nx.Graph()
        for row in self.nodes.itertuples(index=False):
            graph.add_node(
                int(row.label), z=float(row.z), y=float(row.y), x=float(row.x),
                voxels=int(row.voxels), volume=float(row.volume),
            )
        centroid = {
            int(lab): np.array([z, y, x])
            for lab, z, y, x in self.nodes[["label", "z", "y", "x"]].itertuples(index=False)
        }
        grouped = self.edges.groupby(["node_a", "node_b"], sort=True)["edge_id"]
        for (a, b), ids in grouped:
            a, b = int(a), int(b)
            graph.add_edge(
                a, b, weight=int(len(ids)), edge_ids=[int(i) for i in ids],
                length=float(np.linalg.norm(centroid[a] - centroid[b])),
            )
        return graph

    def statistics(self):
        """Whole-network statistics (see :func:`network_statistics`).

        Computed once (exact betweenness is the costly part) and reused by
        ``save`` and the command line; a new dict is returned each time.
        """
        from ._stats import network_statistics

        if "_statistics" not in self.__dict__:
            self.__dict__["_statistics"] = network_statistics(self.graph)
        return dict(self.__dict__["_statistics"])

    def node_table(self, *, community_method="louvain", seed=0):
        """Node properties joined with degree, centralities and community."""
        from ._communities import communities
        from ._stats import node_centralities

        table = self.nodes.set_index("label")
        table.index = table.index.astype(np.uint64)
        cent = node_centralities(self.graph)
        cent.index = cent.index.astype(np.uint64)
        table = table.join(cent)
        assignment = communities(self.graph, method=community_method, seed=seed)
        table["community"] = [assignment.get(int(k), 0) for k in table.index]
        return table.reset_index()

    def save(self, directory, *, excel=False, community_method="louvain", seed=0):
        """Write ``edges.csv``, ``nodes.csv``, ``node_table.csv``,
        ``stats.json`` and ``network.graphml`` (and ``network.xlsx``).

        Every file is written to a temporary name and renamed, so an
        interrupted save never leaves a half-written file.
        """
        from pathlib import Path

        from .. import io

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        io.write_table(self.edges[list(EDGE_COLUMNS)], directory / "edges.csv")
        io.write_table(self.nodes[list(NODE_COLUMNS)], directory / "nodes.csv")
        node_table = self.node_table(community_method=community_method, seed=seed)
        io.write_table(node_table, directory / "node_table.csv")
        stats = dict(self.statistics())
        stats["method"] = self.method
        stats["spacing"] = list(self.spacing)
        stats["params"] = self.params
        io.write_json(stats, directory / "stats.json")
        graph = self.graph.copy()
        for label, community in zip(node_table["label"], node_table["community"]):
            graph.nodes[int(label)]["community"] = int(community)
        io.write_graphml(graph, directory / "network.graphml")
        if excel:
            io.write_excel(
                {"edges": self.edges, "nodes": node_table}, directory / "network.xlsx"
            )
        return directory
