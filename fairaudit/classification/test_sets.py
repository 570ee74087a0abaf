"""The boundary between training and testing in a classification audit: the identity-disjoint test
set held out per seed (:func:`choose_test_set`, whole identities, stratified by group x target),
the check of ``test_size``, and the refusal of training rows that share an identity with the test
set or are not rows of the data."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from fairaudit.common import errors

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
