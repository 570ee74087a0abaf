"""Demographic split strategies: who trains each model of a classification audit.

The audit first holds out ONE test set per seed with :func:`choose_test_set`:
whole identities, a ``test_size`` fraction of the identities of every
group x target stratum. Everything else is the *pool* of training-eligible
rows. A strategy then decides, from the pool only, which rows train each of
the models it defines; every model is scored on the same held-out test set.
Because the test set is chosen by identity and the strategies only ever see
the pool, no identity can be on both sides (the audit checks it anyway, for
custom and third-party strategies too).

A strategy is an object with a ``name`` and a method

``train_sets(pool, *, groups, target, identity, rng)``
    ``pool``: sorted row indices eligible for training; ``groups``, ``target``,
    ``identity``: per-row labels (arrays of str over *all* rows);
    ``rng``: a ``numpy.random.Generator``. Yields ``(model_name, train_indices)``.

Within every training set the target classes are balanced as in the
reference study (equal numbers of men and women): each class is downsampled
to the smallest class. Sampling is by rows, without replacement.

Built-in strategies (:data:`SPLITS`):

========================  =====================================================
``per-group``             one model per group, trained on that group only
``pooled``                one model on all groups, balanced across groups
``leave-one-group-out``   one model per group, trained on all the others
``mixture``               one model on a chosen group mix, e.g. 60 % B, 30 % A,
                          10 % N of 3000 rows (``"mixture:B=0.6,A=0.3,N=0.1"``)
========================  =====================================================
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors

# --- error messages ---------------------------------------------------------
UNKNOWN_SPLIT = (
    "split={value!r} is not a split strategy; available: {available}, or "
    "'mixture:<group>=<share>,...' (e.g. 'mixture:B=0.6,A=0.3,N=0.1'). Fix: pass one "
    "of these, a list of mixtures, or a strategy object."
)
NOT_A_SPLIT = (
    "split={value!r} (a {type}) is not a split strategy: it needs a name and a "
    "train_sets(pool, *, groups, target, identity, rng) method. Fix: pass a name "
    "({available}) or an instance such as fairaudit.splits.PerGroup()."
)
MIXTURE_SYNTAX = (
    "split={value!r} is not a mixture spec. Expected 'mixture:<group>=<share>,...' with "
    "shares that sum to 1, e.g. 'mixture:B=0.6,A=0.3,N=0.1'. Fix: write it that way."
)
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
SIZE_NOT_APPLICABLE = (
    "size={value!r} applies only to mixtures given without a size (e.g. "
    "'mixture:B=0.6,A=0.3,N=0.1'); split {split!r} has none. Fix: drop size, or give "
    "the mixture proportions."
)
LOGO_ONE_GROUP = (
    "split 'leave-one-group-out' needs at least 2 groups; the data has {n}: {groups}. "
    "Fix: group by an attribute with several values, or use split='pooled'."
)
BAD_TEST_SIZE = (
    "test_size={value!r} must be a number strictly between 0 and 1 (the fraction of "
    "identities of every group x target stratum held out for testing). Fix: pass e.g. "
    "test_size=0.33."
)
STRATUM_TOO_SMALL = (
    "the identity-disjoint test split needs at least 2 identities in every group x "
    "target stratum (one to test, one to train); stratum {by}={group!r}, "
    "{target_name}={target!r} has {n}. Fix: add identities to that stratum, or drop it "
    "from the data before the audit."
)
LABEL_NOT_CONSTANT = (
    "{name} changes between the samples of identity {identity!r} (values {values}); "
    "a test split by identity needs one value per identity. Fix: correct the labels."
)
CUSTOM_EMPTY = (
    "CustomSplit: {what} is empty. Fix: give at least one {item}."
)
CUSTOM_BAD_INDICES = (
    "CustomSplit: {what} must be a 1-D array of integer row indices; got {value!r}. "
    "Fix: pass e.g. np.array([0, 3, 7])."
)
BAD_INDICES = (
    "split {split!r}: model {model!r} has training indices that are not row numbers "
    "0..{n_max} (e.g. {bad}). Fix: index rows of the data passed to the audit."
)
BAD_TEST_INDICES = (
    "split {split!r}: the test indices must be row numbers 0..{n_max}; got e.g. {bad}. "
    "Fix: index rows of the data passed to the audit."
)
EMPTY_TRAIN = (
    "split {split!r}: model {model!r} has no training rows. Fix: check the strategy's "
    "groups and sizes."
)
LEAKAGE = (
    "split {split!r}: model {model!r} trains on {count} identit{plural} that are also in "
    "the test set: {identities}. A model must never be scored on people it was trained "
    "on. Fix: move those identities to one side only."
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


# --- test set -----------------------------------------------------------------
def check_test_size(test_size: Any) -> float:
    """Validate ``test_size`` (a fraction in (0, 1)) and return it as float."""
    if (isinstance(test_size, bool) or not isinstance(test_size, numbers.Real)
            or not 0.0 < float(test_size) < 1.0):
        raise errors.FairauditInputError(BAD_TEST_SIZE.format(value=test_size))
    return float(test_size)


def choose_test_set(
    groups: Any,
    target: Any,
    identity: Any,
    *,
    test_size: float,
    rng: np.random.Generator,
    by_name: str = "group",
    target_name: str = "target",
) -> np.ndarray:
    """Hold out whole identities, stratified by group x target.

    In every (group, target) stratum, ``ceil(test_size * n_identities)``
    identities are held out (as scikit-learn's ``train_test_split`` rounds the
    test share up), but always at least one identity is left for training.

    Parameters
    ----------
    groups, target, identity : array-like of shape (n_samples,)
        Per-row labels. ``groups`` and ``target`` must be constant within an
        identity.
    test_size : float
        Fraction in (0, 1) of the identities of each stratum to hold out.
    rng : numpy.random.Generator
        Source of randomness. One uniform key is drawn per identity (in sorted
        identity order) and the identities with the smallest keys of each
        stratum are held out. The test set therefore depends only on the
        generator state and the partition of identities into strata: two
        audits with the same seed and equivalent strata (``gender`` by
        ``ethnicity`` and the six-class ``gender & ethnicity`` by
        ``ethnicity``) hold out the same people.
    by_name, target_name : str
        Names used in error messages.

    Returns
    -------
    ndarray of int
        Sorted row indices of the test set.

    Raises
    ------
    FairauditInputError
        When a stratum has fewer than 2 identities, or a label changes within
        an identity.
    """
    test_size = check_test_size(test_size)
    groups = np.asarray(groups).astype(str)
    target = np.asarray(target).astype(str)
    identity = np.asarray(identity).astype(str)
    names, inv = np.unique(identity, return_inverse=True)
    first = np.full(len(names), len(identity), dtype=np.int64)
    np.minimum.at(first, inv, np.arange(len(identity)))
    for label, values in (("groups", groups), ("target", target)):
        changed = values != values[first][inv]
        if changed.any():
            ident = names[inv[np.flatnonzero(changed)[0]]]
            raise errors.FairauditInputError(LABEL_NOT_CONSTANT.format(
                name=by_name if label == "groups" else target_name, identity=str(ident),
                values=sorted(set(values[identity == ident]))))
    keys = rng.random(len(names))
    id_group, id_target = groups[first], target[first]
    held = np.zeros(len(names), dtype=bool)
    strata = sorted(set(zip(id_group.tolist(), id_target.tolist())))
    for g, t in strata:
        members = np.flatnonzero((id_group == g) & (id_target == t))
        n = len(members)
        if n < 2:
            raise errors.FairauditInputError(STRATUM_TOO_SMALL.format(
                by=by_name, group=g, target_name=target_name, target=t, n=n))
        k = min(n - 1, max(1, math.ceil(test_size * n - 1e-9)))
        held[members[np.argsort(keys[members], kind="stable")[:k]]] = True
    return np.flatnonzero(held[inv]).astype(np.int64)


def check_identity_disjoint(train: np.ndarray, test: np.ndarray, identity: Any, *,
                            model: str, split: str) -> None:
    """Raise :data:`LEAKAGE` when an identity has rows both in ``train`` and in ``test``."""
    identity = np.asarray(identity)
    shared = np.intersect1d(identity[np.asarray(train, dtype=np.int64)],
                            identity[np.asarray(test, dtype=np.int64)])
    if shared.size:
        shown = [str(x) for x in shared[:10]]
        more = f" (and {shared.size - 10} more)" if shared.size > 10 else ""
        raise errors.FairauditInputError(LEAKAGE.format(
            split=split, model=model, count=shared.size,
            plural="y" if shared.size == 1 else "ies", identities=f"{shown}{more}"))


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


#: registered strategies: name -> factory (``mixture`` needs proportions: use a spec string)
SPLITS: dict[str, Callable[..., Any]] = {
    "per-group": PerGroup,
    "pooled": Pooled,
    "leave-one-group-out": LeaveOneGroupOut,
    "mixture": Mixture,
}


def _describe(strategy: Any) -> dict[str, Any]:
    describe = getattr(strategy, "describe", None)
    if callable(describe):
        return describe()
    return {"name": str(getattr(strategy, "name", type(strategy).__name__))}


def is_split(obj: Any) -> bool:
    """True for an object with a ``name`` and a callable ``train_sets``."""
    return (not isinstance(obj, type) and isinstance(getattr(obj, "name", None), str)
            and callable(getattr(obj, "train_sets", None)))


def _parse_one(text: str, size: int | None) -> Any:
    from fairaudit.plugins import registry

    spec = text.strip()
    named = registry("split")  # the built-ins of SPLITS and any plugin's strategies
    if spec in named and spec != "mixture":
        return named[spec].build()
    if spec == "mixture" or spec.startswith("mixture:"):
        body = spec[len("mixture:"):] if spec.startswith("mixture:") else ""
        shares: dict[str, float] = {}
        for part in filter(None, (p.strip() for p in body.split(","))):
            group, sep, value = part.partition("=")
            group = group.strip()
            if not sep or not group or group in shares:
                raise errors.FairauditInputError(MIXTURE_SYNTAX.format(value=text))
            try:
                shares[group] = float(value)
            except ValueError:
                raise errors.FairauditInputError(MIXTURE_SYNTAX.format(value=text)) from None
        if not shares:
            raise errors.FairauditInputError(MIXTURE_SYNTAX.format(value=text))
        return Mixture(shares, size)
    raise errors.FairauditInputError(
        UNKNOWN_SPLIT.format(value=text, available=sorted(k for k in named if k != "mixture")))


def parse_split(text: str, size: int | None = None) -> Any:
    """Parse a split spec string.

    Parameters
    ----------
    text : str
        A strategy name (``"per-group"``, ``"pooled"``, ``"leave-one-group-out"``),
        a mixture ``"mixture:B=0.6,A=0.3,N=0.1"``, or several specs separated
        by ``";"`` (a :class:`Combined`, or a :class:`MixtureSweep` when all are
        mixtures).
    size : int, optional
        Training size of the mixtures in the spec (None: the largest that fits).

    Returns
    -------
    strategy
    """
    if not isinstance(text, str):
        raise errors.FairauditInputError(
            NOT_A_SPLIT.format(value=text, type=type(text).__name__, available=sorted(SPLITS)))
    parts = [p for p in text.split(";") if p.strip()]
    if not parts:
        raise errors.FairauditInputError(
            UNKNOWN_SPLIT.format(value=text, available=sorted(k for k in SPLITS if k != "mixture")))
    strategies = [_parse_one(p, size) for p in parts]
    if size is not None and not any(isinstance(s, Mixture) for s in strategies):
        raise errors.FairauditInputError(SIZE_NOT_APPLICABLE.format(value=size, split=text))
    if len(strategies) == 1:
        return strategies[0]
    if all(isinstance(s, Mixture) for s in strategies):
        return MixtureSweep(strategies)
    return Combined(strategies)


def resolve_split(split: Any, size: int | None = None) -> Any:
    """Turn the ``split=`` argument of an audit into a strategy object.

    Parameters
    ----------
    split : str, strategy, or list
        A name or spec string (see :func:`parse_split`), a strategy instance,
        or a list of them (a list of :class:`Mixture` becomes a
        :class:`MixtureSweep`, any other list a :class:`Combined`).
    size : int, optional
        Training size given to mixtures that have none. Refused when the split
        has no such mixture, so that a size is never silently ignored.

    Returns
    -------
    strategy
    """
    if isinstance(split, str):
        return parse_split(split, size)
    if isinstance(split, (list, tuple)):
        members = [resolve_split(s) for s in split]
        if size is not None:
            if not any(isinstance(m, Mixture) and m.size is None for m in members):
                raise errors.FairauditInputError(SIZE_NOT_APPLICABLE.format(value=size, split=split))
            members = [m.with_size(size) if isinstance(m, Mixture) and m.size is None else m
                       for m in members]
        if members and all(isinstance(m, Mixture) for m in members):
            return MixtureSweep(members)
        return Combined(members)
    if isinstance(split, Mixture):
        if size is not None:
            if split.size is not None:
                raise errors.FairauditInputError(SIZE_NOT_APPLICABLE.format(value=size, split=split))
            return split.with_size(size)
        return split
    if is_split(split):
        if size is not None:
            raise errors.FairauditInputError(SIZE_NOT_APPLICABLE.format(value=size, split=split))
        return split
    raise errors.FairauditInputError(
        NOT_A_SPLIT.format(value=split, type=type(split).__name__, available=sorted(SPLITS)))


def describe_split(strategy: Any) -> dict[str, Any]:
    """JSON-safe description of a (possibly third-party) strategy."""
    return _describe(strategy)
