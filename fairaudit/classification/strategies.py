"""Demographic split strategies: which rows of the training pool train each model of a
classification audit.

A strategy is an object with a ``name`` and a method

``train_sets(pool, *, groups, target, identity, rng)``
    ``pool``: sorted row indices eligible for training; ``groups``, ``target``,
    ``identity``: per-row labels (arrays of str over *all* rows);
    ``rng``: a ``numpy.random.Generator``. Yields ``(model_name, train_indices)``.

Within every training set the target classes are balanced as in the
reference study (equal numbers of men and women): each class is downsampled
to the smallest class. Sampling is by rows, without replacement.

Built-in: :class:`PerGroup`, :class:`Pooled`, :class:`LeaveOneGroupOut`,
:class:`Mixture`, and the compositions :class:`Combined`, :class:`MixtureSweep`;
:class:`CustomSplit` gives the training sets and the test set explicitly.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors

# --- error messages ---------------------------------------------------------
MIXTURE_NOT_MAPPING = (
    "Mixture proportions={value!r} must be a non-empty dict mapping group labels to "
    "shares. Fix: pass e.g. {{'B': 0.6, 'A': 0.3, 'N': 0.1}}."
)
MIXTURE_BAD_SHARE = (
    "Mixture proportions: the share of group {group!r} is {value!r}; shares must be "
    "finite numbers >= 0. Fix: pass e.g. {{'B': 0.6, 'A': 0.3, 'N': 0.1}}."
)
MIXTURE_SUM = (
    "Mixture proportions={value!r} sum to {total:.6g}, not 1 (tolerance 1e-6). Fix: "
    "rescale the shares so that they sum to 1."
)
MIXTURE_BAD_SIZE = (
    "Mixture size={value!r} must be an integer >= 1 (training rows of the model) or "
    "None (the largest size the pool can fill). Fix: pass e.g. size=3000."
)
MIXTURE_UNKNOWN_GROUP = (
    "mixture {name!r} names group {group!r}, which has no training rows; groups: "
    "{available}. Fix: use these group labels as keys."
)
MIXTURE_TOO_FEW = (
    "mixture {name!r} asks for {asked} training rows of group {group!r} with target "
    "{target!r} (share {share:g} of size {size}, balanced over {n_classes} target "
    "class(es)) but only {available} exist outside the test set. Fix: pass size <= "
    "{max_size}, lower the share of {group!r}, or use a smaller test_size."
)
MIXTURE_EMPTY = (
    "mixture {name!r} cannot be filled: every group with a positive share lacks "
    "training rows. Fix: check the group labels and test_size."
)
SWEEP_NOT_MIXTURE = (
    "MixtureSweep takes Mixture objects; item {index} is {value!r}. Fix: pass e.g. "
    "[Mixture({{'B': 0.6, 'A': 0.3, 'N': 0.1}}, 3000), ...]."
)
COMBINED_EMPTY = "{name} needs at least one strategy; got none. Fix: pass a non-empty list."
COMBINED_CUSTOM = (
    "a CustomSplit fixes its own test set and cannot be combined with other "
    "strategies. Fix: pass the CustomSplit alone."
)
LOGO_ONE_GROUP = (
    "split 'leave-one-group-out' needs at least 2 groups; the data has {n}: {groups}. "
    "Fix: group by an attribute with several values, or use split='pooled'."
)
CUSTOM_EMPTY = (
    "CustomSplit: {what} is empty. Fix: give at least one {item}."
)
CUSTOM_BAD_INDICES = (
    "CustomSplit: {what} must be a 1-D array of integer row indices; got {value!r}. "
    "Fix: pass e.g. np.array([0, 3, 7])."
)


# --- helpers ----------------------------------------------------------------
def _as_index(values: Any, *, what: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1 or not (arr.size == 0 or np.issubdtype(arr.dtype, np.integer)):
        raise errors.FairauditInputError(CUSTOM_BAD_INDICES.format(what=what, value=values))
    return arr.astype(np.int64)


def _cells(pool: np.ndarray, groups: np.ndarray, target: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
    """Rows of the pool by (group, target class), in sorted key order."""
    pool = np.asarray(pool, dtype=np.int64)
    if pool.size == 0:
        return {}
    frame = pd.DataFrame({"g": np.asarray(groups)[pool].astype(str),
                          "t": np.asarray(target)[pool].astype(str)})
    out = {}
    for (gk, tk), positions in sorted(frame.groupby(["g", "t"], sort=True).indices.items()):
        out[(str(gk), str(tk))] = pool[positions]
    return out


def _draw(rows: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    if k >= len(rows):
        return rows
    return rng.choice(rows, size=k, replace=False)


def _balanced_within(cells: Mapping[tuple[str, str], np.ndarray], group: str,
                     rng: np.random.Generator) -> list[np.ndarray]:
    """Every class of ``group`` downsampled to the group's smallest class."""
    own = [(c, rows) for (g, c), rows in cells.items() if g == group]
    m = min(len(rows) for _, rows in own)
    return [_draw(rows, m, rng) for _, rows in own]


def _join(parts: Iterable[np.ndarray]) -> np.ndarray:
    parts = list(parts)
    if not parts:
        return np.array([], dtype=np.int64)
    return np.sort(np.concatenate(parts).astype(np.int64))


def _pool_groups(cells: Mapping[tuple[str, str], np.ndarray]) -> list[str]:
    return sorted({g for g, _ in cells})


# --- strategies -----------------------------------------------------------------
class SplitStrategy:
    """Base class of the built-in strategies (plugins may duck-type instead).

    Attributes
    ----------
    name : str
        Name of the strategy as it appears in results.
    test : ndarray or None
        A fixed test set (only :class:`CustomSplit` has one); None lets the
        audit choose the identity-disjoint test set.
    """

    name = "split"
    test: np.ndarray | None = None

    def train_sets(self, pool: np.ndarray, *, groups: np.ndarray, target: np.ndarray,
                   identity: np.ndarray, rng: np.random.Generator) -> Iterator[tuple[str, np.ndarray]]:
        """Yield ``(model_name, train_indices)`` for every model of the strategy."""
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        """JSON-safe parameters of the strategy, recorded in results."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class PerGroup(SplitStrategy):
    """One model per group, trained on that group only (the study's models A, B, N).

    The model is named after its group. Within the group every target class
    is downsampled to the group's smallest class.
    """

    name = "per-group"

    def train_sets(self, pool, *, groups, target, identity, rng):
        cells = _cells(pool, groups, target)
        for g in _pool_groups(cells):
            yield g, _join(_balanced_within(cells, g, rng))


class Pooled(SplitStrategy):
    """One model, named ``"pooled"``, trained on all groups, balanced across groups.

    Every (group, target class) cell of the pool is downsampled to the
    smallest cell, so each group contributes the same number of rows (the
    smallest group's count) and the classes are balanced within every group.
    """

    name = "pooled"

    def train_sets(self, pool, *, groups, target, identity, rng):
        cells = _cells(pool, groups, target)
        if not cells:
            return
        m = min(len(rows) for rows in cells.values())
        yield "pooled", _join(_draw(rows, m, rng) for rows in cells.values())


class LeaveOneGroupOut(SplitStrategy):
    """One model per group, trained on all the *other* groups; named ``"all but <group>"``.

    Within each included group the target classes are downsampled to that
    group's smallest class (so the training set is class-balanced); groups
    keep their own sizes.
    """

    name = "leave-one-group-out"

    def train_sets(self, pool, *, groups, target, identity, rng):
        cells = _cells(pool, groups, target)
        present = _pool_groups(cells)
        if len(present) < 2:
            raise errors.FairauditInputError(LOGO_ONE_GROUP.format(n=len(present), groups=present))
        for held in present:
            parts = []
            for g in present:
                if g != held:
                    parts.extend(_balanced_within(cells, g, rng))
            yield f"all but {held}", _join(parts)


def _format_shares(proportions: Mapping[str, float]) -> str:
    return ",".join(f"{g}={p:g}" for g, p in proportions.items())


class Mixture(SplitStrategy):
    """One model trained on a chosen mix of groups (the study's biased models).

    Parameters
    ----------
    proportions : dict of str to float
        Share of the training rows for each group label, e.g.
        ``{"B": 0.6, "A": 0.3, "N": 0.1}``. Shares must be >= 0 and sum to 1
        (tolerance 1e-6). Groups not named get share 0 (not trained on); a
        share of 0 is allowed (``{"N": 0.8, "A": 0.2, "B": 0}``).
    size : int or None, default None
        Number of training rows. None: the largest size the pool can fill
        (recorded in the audit's ``splits`` table).
    name : str, optional
        Model name; default ``"mixture(B=0.6,A=0.3,N=0.1)"``.

    Notes
    -----
    The rows are allocated to (group, class) cells: a group's share is split
    evenly over the target classes present in it (the study took as many men
    as women), and the fractional parts are rounded by the largest-remainder
    method so that the cells add up to exactly ``size``. A cell that needs
    more rows than the pool has raises :data:`MIXTURE_TOO_FEW`.
    """

    kind = "mixture"

    def __init__(self, proportions: Mapping[str, float], size: int | None = None,
                 name: str | None = None) -> None:
        if not isinstance(proportions, Mapping) or not proportions:
            raise errors.FairauditInputError(MIXTURE_NOT_MAPPING.format(value=proportions))
        clean: dict[str, float] = {}
        for group, share in proportions.items():
            if (isinstance(share, bool) or not isinstance(share, numbers.Real)
                    or not math.isfinite(float(share)) or float(share) < 0):
                raise errors.FairauditInputError(MIXTURE_BAD_SHARE.format(group=group, value=share))
            clean[str(group)] = float(share)
        total = sum(clean.values())
        if abs(total - 1.0) > 1e-6:
            raise errors.FairauditInputError(MIXTURE_SUM.format(value=dict(proportions), total=total))
        if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral)
                                 or size < 1):
            raise errors.FairauditInputError(MIXTURE_BAD_SIZE.format(value=size))
        self.proportions = clean
        self.size = None if size is None else int(size)
        self.name = str(name) if name is not None else f"mixture({_format_shares(clean)})"

    def __repr__(self) -> str:
        return f"Mixture({self.proportions!r}, size={self.size!r}, name={self.name!r})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "proportions": dict(self.proportions),
                "size": self.size}

    def with_size(self, size: int | None) -> "Mixture":
        """A copy of this mixture with another ``size`` (and the same name)."""
        return Mixture(self.proportions, size, name=self.name)

    # -- allocation ---------------------------------------------------------
    def _plan(self, cells: Mapping[tuple[str, str], np.ndarray]) -> list[tuple[str, str, float]]:
        present = _pool_groups(cells)
        for g in self.proportions:
            if g not in present:
                raise errors.FairauditInputError(MIXTURE_UNKNOWN_GROUP.format(
                    name=self.name, group=g, available=present))
        plan = []
        for g, share in self.proportions.items():
            if share <= 0:
                continue
            classes = [c for (gg, c) in cells if gg == g]
            for c in classes:
                plan.append((g, c, share / len(classes)))
        if not plan:
            raise errors.FairauditInputError(MIXTURE_EMPTY.format(name=self.name))
        return plan

    @staticmethod
    def _allocate(plan: Sequence[tuple[str, str, float]], size: int) -> list[int]:
        quotas = np.array([w for _, _, w in plan]) * size
        counts = np.floor(quotas + 1e-9).astype(np.int64)
        short = size - int(counts.sum())
        if short > 0:
            order = np.argsort(-(quotas - counts), kind="stable")
            counts[order[:short]] += 1
        return counts.tolist()

    def max_size(self, cells: Mapping[tuple[str, str], np.ndarray]) -> int:
        """The largest ``size`` the given pool cells can fill."""
        plan = self._plan(cells)
        avail = np.array([len(cells[(g, c)]) for g, c, _ in plan])
        weights = np.array([w for _, _, w in plan])
        size = int(np.floor(np.min(avail / weights) + 1e-9)) + len(plan)
        while size > 0 and np.any(np.array(self._allocate(plan, size)) > avail):
            size -= 1
        return size

    def train_sets(self, pool, *, groups, target, identity, rng):
        cells = _cells(pool, groups, target)
        plan = self._plan(cells)
        size = self.size if self.size is not None else self.max_size(cells)
        counts = self._allocate(plan, size)
        parts = []
        for (g, c, _), k in zip(plan, counts):
            rows = cells[(g, c)]
            if k > len(rows):
                n_classes = sum(1 for gg, _, _ in plan if gg == g)
                raise errors.FairauditInputError(MIXTURE_TOO_FEW.format(
                    name=self.name, asked=k, group=g, target=c, share=self.proportions[g],
                    size=size, n_classes=n_classes, available=len(rows),
                    max_size=self.max_size(cells)))
            parts.append(_draw(rows, k, rng))
        yield self.name, _join(parts)


class Combined(SplitStrategy):
    """Several strategies in one audit: the models of each, in order.

    Model names must be unique across the strategies. All models are scored on
    the same held-out test set.

    Parameters
    ----------
    strategies : sequence of strategies
    name : str, optional
        Default: the member names joined with ``" + "``.
    """

    def __init__(self, strategies: Sequence[Any], name: str | None = None) -> None:
        strategies = list(strategies)
        if not strategies:
            raise errors.FairauditInputError(COMBINED_EMPTY.format(name=type(self).__name__))
        for s in strategies:
            if getattr(s, "test", None) is not None:
                raise errors.FairauditInputError(COMBINED_CUSTOM)
        self.strategies = strategies
        self.name = str(name) if name is not None else " + ".join(s.name for s in strategies)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.strategies!r})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "combined", "strategies": [_describe(s) for s in self.strategies]}

    def train_sets(self, pool, *, groups, target, identity, rng):
        for s in self.strategies:
            yield from s.train_sets(pool, groups=groups, target=target, identity=identity, rng=rng)


class MixtureSweep(Combined):
    """A sweep over mixtures: one model per :class:`Mixture`.

    Parameters
    ----------
    mixtures : sequence of Mixture
    name : str, default "mixture sweep"
    """

    def __init__(self, mixtures: Sequence[Mixture], name: str | None = None) -> None:
        mixtures = list(mixtures)
        for i, m in enumerate(mixtures):
            if not isinstance(m, Mixture):
                raise errors.FairauditInputError(SWEEP_NOT_MIXTURE.format(index=i, value=m))
        super().__init__(mixtures, name=name if name is not None else "mixture sweep")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "mixture-sweep",
                "strategies": [m.describe() for m in self.strategies]}


class CustomSplit(SplitStrategy):
    """A split given explicitly: training rows per model and one test set.

    The audit refuses it (naming the identities) when an identity has rows in
    the test set and in a training set. The same split serves every seed;
    seeds then only change the heads' initialisation.

    Parameters
    ----------
    train : dict of str to array of int
        Row indices that train each model, by model name.
    test : array of int
        Row indices of the test set, shared by all models.
    name : str, default "custom"
    """

    def __init__(self, train: Mapping[str, Any], test: Any, name: str = "custom") -> None:
        if not isinstance(train, Mapping) or not train:
            raise errors.FairauditInputError(CUSTOM_EMPTY.format(what="train", item="model"))
        self.train = {}
        for model, rows in train.items():
            idx = _as_index(rows, what=f"train[{model!r}]")
            if idx.size == 0:
                raise errors.FairauditInputError(
                    CUSTOM_EMPTY.format(what=f"train[{model!r}]", item="row index"))
            self.train[str(model)] = idx
        self.test = _as_index(test, what="test")
        if self.test.size == 0:
            raise errors.FairauditInputError(CUSTOM_EMPTY.format(what="test", item="row index"))
        self.name = str(name)

    def __repr__(self) -> str:
        return f"CustomSplit(models={list(self.train)}, n_test={self.test.size})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "custom", "models": list(self.train),
                "n_test": int(self.test.size)}

    def train_sets(self, pool, *, groups, target, identity, rng):
        for model, rows in self.train.items():
            yield model, np.sort(rows)


def _describe(strategy: Any) -> dict[str, Any]:
    describe = getattr(strategy, "describe", None)
    if callable(describe):
        return describe()
    return {"name": str(getattr(strategy, "name", type(strategy).__name__))}
