"""Neighbour graphs (kNN, radius) and DBSCAN on native, thread-parallel k-d trees,
pixel clustering (connected components per module), plus the graph-construction
metrics of learned tracking pipelines."""

from __future__ import annotations

from ._neighbors import (
    BRUTE_FORCE_MIN_DIM,
    DbscanRescan,
    dbscan,
    knn,
    knn_graph,
    radius,
    radius_graph,
)

__all__ = ["BRUTE_FORCE_MIN_DIM", "DbscanRescan", "dbscan", "knn", "knn_graph", "radius",
           "radius_graph"]

from ._pixels import PixelClusters, cluster_pixels

__all__ += ["PixelClusters", "cluster_pixels"]

from .metrics import GraphMetrics, KScan, graph_metrics, hits_of_interest, k_scan

__all__ += ["GraphMetrics", "KScan", "graph_metrics", "hits_of_interest", "k_scan"]

from ._maxnorm import ksg_counts, max_norm_count_within, max_norm_kth_distance

__all__ += ["ksg_counts", "max_norm_count_within", "max_norm_kth_distance"]
