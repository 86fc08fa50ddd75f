"""Diversity: group frames that look alike, and suggest from groups that have few labels.

A model fine-tuned on ten frames of the animal sitting in one corner knows little about it
rearing in the middle. Following SLEAP's image-feature suggestions, thumbnails (see
:mod:`.thumbnails`) are reduced to their main principal components and clustered with
k-means; frames that look alike (same place, same posture) share a cluster. Suggestions go
round-robin over clusters, those holding the fewest labeled frames first, and within a
cluster the most typical frame (nearest the centre) first, so the first ``k`` suggestions come
from ``k`` different clusters.

Example::

    from napari_superanimal.suggest.diversity import diversity_ranking
    diversity_ranking(thumbs, labeled=[10, 500], n_clusters=20)   # frame indices, best first
"""

from __future__ import annotations

import warnings

import numpy as np

from .robust import labeled_mask
from .thumbnails import Thumbnails

N_COMPONENTS = 20


def thumbnail_features(thumbnails: Thumbnails, n_components: int = N_COMPONENTS) -> np.ndarray:
    """``(N, d)`` principal-component coordinates of the thumbnails (``d <= n_components``).

    Each thumbnail's mean brightness is removed first so lighting flicker does not split
    clusters.
    """
    flat = thumbnails.images.reshape(len(thumbnails), -1).astype(np.float64)
    flat = flat - flat.mean(axis=1, keepdims=True)
    flat = flat - flat.mean(axis=0, keepdims=True)
    if len(flat) < 2:
        return flat[:, :0]
    # randomized PCA (Halko et al. 2011): a full SVD of a 500 x 1024 matrix costs seconds on a
    # busy 2-core machine, this a few milliseconds, and the leading components agree closely
    d = min(n_components, *flat.shape)
    rng = np.random.default_rng(0)
    basis = flat @ rng.normal(size=(flat.shape[1], min(d + 10, flat.shape[1])))
    for _ in range(2):  # power iterations sharpen the leading components
        basis, _ = np.linalg.qr(flat @ (flat.T @ basis))
    basis, _ = np.linalg.qr(basis)
    u, s, _ = np.linalg.svd(basis.T @ flat, full_matrices=False)
    return (basis @ u[:, :d]) * s[:d]


def cluster_thumbnails(
    thumbnails: Thumbnails, n_clusters: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """k-means on :func:`thumbnail_features`: ``(labels (N,), distance to own centre (N,))``.

    ``n_clusters`` is capped at the number of thumbnails. Deterministic for a given ``seed``.
    """
    from scipy.cluster.vq import kmeans2

    n = len(thumbnails)
    k = max(1, min(int(n_clusters), n))
    features = thumbnail_features(thumbnails)
    if k == 1 or features.shape[1] == 0:
        centre = features.mean(axis=0, keepdims=True)
        return np.zeros(n, np.int64), np.linalg.norm(features - centre, axis=1)
    with warnings.catch_warnings():  # "one of the clusters is empty": harmless, it stays empty
        warnings.simplefilter("ignore")
        centres, labels = kmeans2(features, k, minit="++", seed=seed)
    distance = np.linalg.norm(features - centres[labels], axis=1)
    return labels.astype(np.int64), distance


def frame_clusters(thumbnails: Thumbnails, labels: np.ndarray) -> np.ndarray:
    """``(n_frames,)`` cluster of every frame of the video: that of the nearest sampled frame.

    Consecutive frames look alike, so a frame that was not sampled is assumed to look like the
    nearest one that was.
    """
    sampled = thumbnails.frames
    frames = np.arange(thumbnails.n_frames)
    right = np.clip(np.searchsorted(sampled, frames), 0, len(sampled) - 1)
    left = np.clip(right - 1, 0, len(sampled) - 1)
    nearer_left = np.abs(frames - sampled[left]) <= np.abs(sampled[right] - frames)
    return np.asarray(labels)[np.where(nearer_left, left, right)]


def diversity_ranking(
    thumbnails: Thumbnails,
    labeled=None,
    n_clusters: int = 20,
    seed: int = 0,
) -> np.ndarray:
    """Sampled, unlabeled frames ranked round-robin over clusters (see the module docstring).

    Only frames that have a thumbnail can be suggested. Clusters are visited in order of how
    few labeled frames they hold (labeled frames count for the cluster of the nearest sample),
    then of size (larger first).
    """
    if len(thumbnails) == 0:
        return np.empty(0, np.int64)
    mask = labeled_mask(labeled, thumbnails.n_frames)
    labels, distance = cluster_thumbnails(thumbnails, n_clusters, seed)
    k = int(labels.max()) + 1
    labeled_per_cluster = np.bincount(frame_clusters(thumbnails, labels)[mask], minlength=k)
    size = np.bincount(labels, minlength=k)
    order = sorted(range(k), key=lambda c: (labeled_per_cluster[c], -size[c], c))
    free = ~mask[thumbnails.frames]
    queues = []
    for c in order:
        members = np.flatnonzero((labels == c) & free)
        nearest_first = members[np.argsort(distance[members], kind="stable")]
        queues.append(list(thumbnails.frames[nearest_first]))
    ranked = []
    depth = max((len(q) for q in queues), default=0)
    for i in range(depth):
        ranked.extend(q[i] for q in queues if i < len(q))
    return np.asarray(ranked, dtype=np.int64)
