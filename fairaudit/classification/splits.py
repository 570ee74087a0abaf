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

This module turns the ``split=`` argument of an audit into a strategy
(:func:`resolve_split`, :func:`parse_split`, :data:`SPLITS`). The strategies
themselves are in ``strategies``, the test set and the leakage checks in
``test_sets``; their public names are importable from here too.
"""

from __future__ import annotations

from typing import Any, Callable

from fairaudit.common import errors
from fairaudit.classification.strategies import (  # noqa: F401
    COMBINED_CUSTOM,
    COMBINED_EMPTY,
    CUSTOM_BAD_INDICES,
    CUSTOM_EMPTY,
    LOGO_ONE_GROUP,
    MIXTURE_BAD_SHARE,
    MIXTURE_BAD_SIZE,
    MIXTURE_EMPTY,
    MIXTURE_NOT_MAPPING,
    MIXTURE_SUM,
    MIXTURE_TOO_FEW,
    MIXTURE_UNKNOWN_GROUP,
    SWEEP_NOT_MIXTURE,
    Combined,
    CustomSplit,
    LeaveOneGroupOut,
    Mixture,
    MixtureSweep,
    PerGroup,
    Pooled,
    SplitStrategy,
    _describe,
)
from fairaudit.classification.test_sets import (  # noqa: F401
    BAD_INDICES,
    BAD_TEST_INDICES,
    BAD_TEST_SIZE,
    EMPTY_TRAIN,
    LABEL_NOT_CONSTANT,
    LEAKAGE,
    STRATUM_TOO_SMALL,
    check_identity_disjoint,
    check_test_size,
    choose_test_set,
)

# --- error messages ---------------------------------------------------------
UNKNOWN_SPLIT = (
    "split={value!r} is not a split strategy; available: {available}, or "
    "'mixture:<group>=<share>,...' (e.g. 'mixture:B=0.6,A=0.3,N=0.1'). Fix: pass one "
    "of these, a list of mixtures, or a strategy object."
)
NOT_A_SPLIT = (
    "split={value!r} (a {type}) is not a split strategy: it needs a name and a "
    "train_sets(pool, *, groups, target, identity, rng) method. Fix: pass a name "
    "({available}) or an instance such as fairaudit.classification.splits.PerGroup()."
)
MIXTURE_SYNTAX = (
    "split={value!r} is not a mixture spec. Expected 'mixture:<group>=<share>,...' with "
    "shares that sum to 1, e.g. 'mixture:B=0.6,A=0.3,N=0.1'. Fix: write it that way."
)
SIZE_NOT_APPLICABLE = (
    "size={value!r} applies only to mixtures given without a size (e.g. "
    "'mixture:B=0.6,A=0.3,N=0.1'); split {split!r} has none. Fix: drop size, or give "
    "the mixture proportions."
)


#: registered strategies: name -> factory (``mixture`` needs proportions: use a spec string)
SPLITS: dict[str, Callable[..., Any]] = {
    "per-group": PerGroup,
    "pooled": Pooled,
    "leave-one-group-out": LeaveOneGroupOut,
    "mixture": Mixture,
}


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
