"""Clustering: :class:`KMeans` in the C core, and the agreement of a
clustering with true classes (:func:`normalized_mutual_info_score`,
:func:`adjusted_rand_score`).  See :mod:`tlearn.transfer.clustering`."""
from .transfer.clustering import KMeans, adjusted_rand_score, kmeans_plusplus, normalized_mutual_info_score

__all__ = ["KMeans", "kmeans_plusplus", "normalized_mutual_info_score", "adjusted_rand_score"]
