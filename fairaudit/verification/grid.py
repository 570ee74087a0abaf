"""The bin grid of the impostor histograms (:class:`BinGrid`) and what the pair engine hands the
audit (:class:`PairStats`), with the engine's defaults."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from fairaudit.data import Groups

#: default bin width of the impostor histograms (about 6.1e-5 in cosine score)
DEFAULT_BIN_WIDTH = 2.0**-14
#: scores are cosines; the grid covers [-1 - margin, 1 + margin]
_MARGIN = 1e-3
#: rows per tile of the blocked product (tiles are cut at identity boundaries)
DEFAULT_TILE = 2048


@dataclass(frozen=True)
class BinGrid:
    """A regular grid of score bins with one chosen value exactly on an edge."""

    width: float
    origin: float
    k0: int
    n_bins: int

    @classmethod
    def around(cls, origin: float = 0.0, width: float = DEFAULT_BIN_WIDTH) -> "BinGrid":
        k0 = int(math.ceil((origin + 1.0 + _MARGIN) / width))
        k_top = int(math.ceil((1.0 + _MARGIN - origin) / width))
        return cls(width=float(width), origin=float(origin), k0=k0, n_bins=k0 + k_top)

    @property
    def lo(self) -> float:
        return self.origin - self.k0 * self.width

    def edges(self) -> np.ndarray:
        """All ``n_bins + 1`` edges; ``edges()[k0] == origin`` exactly."""
        return self.origin + (np.arange(self.n_bins + 1, dtype=np.float64) - self.k0) * self.width

    def edge(self, k: int) -> float:
        return self.origin + (k - self.k0) * self.width

    def bin_of(self, scores: np.ndarray) -> np.ndarray:
        """Bin index of each score, consistent with ``score >= edges[k]``."""
        edges = self.edges()
        idx = np.searchsorted(edges, np.asarray(scores, dtype=np.float64), side="right") - 1
        return np.clip(idx, 0, self.n_bins - 1)


@dataclass(eq=False)
class PairStats:
    """Everything the verification audit needs, from either route.

    Attributes
    ----------
    groups : Groups
        Group of every identity (``groups.codes`` is indexed by identity code).
    identity_names : ndarray of str
        Name of every identity code.
    identity_samples : ndarray of int or None
        Samples per identity (EmbeddingSet route); None for a ScoreSet.
    grid : BinGrid
    imp_hist : ndarray of int64, shape (n_group_pairs, n_bins)
        Impostor score histogram of every unordered group pair ``a <= b``.
    pair_index : ndarray of int, shape (G, G)
        Row of ``imp_hist`` for groups ``(a, b)`` (symmetric).
    gen_score : ndarray of float64
        Every genuine score, exactly.
    gen_identity : ndarray of int
        Identity code of every genuine score.
    n_samples_group : ndarray of int or None
        Samples per group (None for a ScoreSet).
    """

    groups: Groups
    identity_names: np.ndarray
    identity_samples: np.ndarray | None
    grid: BinGrid
    imp_hist: np.ndarray
    pair_index: np.ndarray
    gen_score: np.ndarray
    gen_identity: np.ndarray
    n_samples_group: np.ndarray | None
    route: str = "embeddings"
    # route-specific inputs kept for the bootstrap's second look at the data
    _source: object = field(default=None, repr=False)
    #: every impostor comparison in bin ``high_scores.keep_from`` or above, when the engine kept them
    high_scores: "HighScores | None" = field(default=None, repr=False)

    @property
    def n_groups(self) -> int:
        return self.groups.n_groups

    @property
    def gen_group(self) -> np.ndarray:
        return self.groups.codes[self.gen_identity]

    def impostor_hist(self, a: int, b: int | None = None) -> np.ndarray:
        return self.imp_hist[self.pair_index[a, a if b is None else b]]

    def pooled_impostor_hist(self) -> np.ndarray:
        return self.imp_hist.sum(axis=0)


@dataclass(eq=False)
class HighScores:
    """Every impostor comparison scoring in bin ``keep_from`` or above, as identity codes ``a``
    and ``b`` (in either order) and its ``bin``."""

    keep_from: int
    a: np.ndarray
    b: np.ndarray
    bin: np.ndarray


def _pair_index(n_groups: int) -> tuple[np.ndarray, int]:
    index = np.full((n_groups, n_groups), -1, dtype=np.int64)
    p = 0
    for a in range(n_groups):
        for b in range(a, n_groups):
            index[a, b] = index[b, a] = p
            p += 1
    return index, p
