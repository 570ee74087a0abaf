"""The study's ORIGINAL classification protocol, leakage included, reproduced on purpose.

It exists to measure what the leakage did; never use it to judge a model.

What the study's code did (tasks 2.1-2.6), repeated here per seed:

* **2.1-2.2** For each ethnicity, its rows were split 67/33 by
  ``train_test_split(test_size=0.33, stratify=gender)``; a gender head was
  trained on each ethnicity's training part and every head was scored on
  every ethnicity's test part (these per-ethnicity test sets are then reused
  by 2.4 and 2.6).
* **2.3-2.4** A pooled gender head was trained on its *own* 67/33 split of
  ALL rows, drawn independently of the per-ethnicity splits, and scored on
  the per-ethnicity test sets of 2.1. About two thirds of those test rows
  were in its training part: the leak.
* **2.5** A six-class (gender x ethnicity) head on its own 67/33 split of all
  rows, scored on its own test part (no leak with one image per identity).
* **2.6** Biased mixtures: the first ``k`` rows of every gender x ethnicity
  cell, ``k = share * 3000 / 2`` (silently capped at what the cell holds, as
  the study's list slicing did: with 750 per cell its "60 % White" mix was
  really 1500 White / 900 Asian / 300 Black), split 67/33, trained on the
  67 %, and scored on the per-ethnicity test sets of 2.1: leaked again.

The splits are by row, as in the study (one image per identity there). For
every model and test group the *overlap* is reported: the share of test rows
that were training rows of that model, and the share of test rows whose
identity appears among that model's training rows (larger when identities
have several images).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit import EmbeddingSet, FairauditInputError

#: the study's biased training mixes (task 2.6) and the size it asked for
STUDY_MIXTURES = (
    ("B60-A30-N10", {"B": 0.6, "A": 0.3, "N": 0.1}),
    ("N80-A20-B0", {"N": 0.8, "A": 0.2, "B": 0.0}),
)
STUDY_TEST_SIZE = 0.33
#: the study asked for 3000 rows per mixture out of 4500 (750 per group x 6): two thirds
MIXTURE_FRACTION = 2 / 3

PREDICTION_COLUMNS = ("seed", "task", "model", "test_group", "index", "y_true", "y_pred")
OVERLAP_COLUMNS = ("seed", "task", "model", "test_group", "n_test", "n_train",
                   "overlap_rows", "overlap_identities")


SPLIT_FAILED = (
    "the original protocol's 67/33 split of {what} ({n} rows) failed: {error} Fix: give every "
    "gender x ethnicity group more identities (the study had 750)."
)


def _split(rows: np.ndarray, labels: np.ndarray, test_size: float, seed: int,
           what: str) -> tuple[np.ndarray, np.ndarray]:
    """The study's ``train_test_split(..., test_size, random_state, stratify=labels)`` on row indices."""
    from sklearn.model_selection import train_test_split

    try:
        train, test = train_test_split(rows, test_size=test_size, random_state=seed % 2**32,
                                       stratify=labels[rows])
    except ValueError as exc:
        raise FairauditInputError(SPLIT_FAILED.format(what=what, n=len(rows), error=exc)) from None
    return np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)


def mixture_rows(gender: np.ndarray, ethnicity: np.ndarray, shares: dict[str, float],
                 size: int) -> tuple[np.ndarray, dict[str, int]]:
    """The study's biased subset: the first ``int(share * size / 2)`` rows of every cell.

    Returns the rows (in data order) and the rows actually taken per
    ``gender+ethnicity`` cell (the study's slicing capped them silently).
    """
    taken: dict[str, int] = {}
    parts = []
    for e in sorted(set(ethnicity.tolist())):
        share = float(shares.get(e, 0.0))
        for gcls in sorted(set(gender.tolist())):
            cell = np.flatnonzero((ethnicity == e) & (gender == gcls))
            k = int(share * size / 2)
            part = cell[:k]
            taken[f"{gcls}{e}"] = int(part.size)
            parts.append(part)
    rows = np.sort(np.concatenate(parts)) if parts else np.array([], dtype=np.int64)
    return rows.astype(np.int64), taken


def run_original_protocol(
    data: EmbeddingSet,
    *,
    head: Any = "logistic",
    seeds: Sequence[int],
    target: str = "gender",
    by: str = "ethnicity",
    test_size: float = STUDY_TEST_SIZE,
    mixture_size: int | None = None,
) -> dict[str, Any]:
    """Rerun tasks 2.1-2.6 exactly as the study did, with its leakage.

    Parameters
    ----------
    data : EmbeddingSet
        Needs ``target`` and ``by`` attributes (DiveFace: gender H/M,
        ethnicity A/B/N).
    head : str or estimator
        As in :func:`fairaudit.classification_audit` (cloned, seeded per fit).
    seeds : sequence of int
        One repetition per seed; all splits of a repetition use that seed as
        ``random_state`` (the study used 42 everywhere).
    mixture_size : int, optional
        Rows each biased mixture asks for; default two thirds of the rows
        (3000 of the study's 4500).

    Returns
    -------
    dict
        ``"predictions"`` (DataFrame, :data:`PREDICTION_COLUMNS`),
        ``"overlap"`` (DataFrame, :data:`OVERLAP_COLUMNS`, per seed),
        ``"mixtures"`` (rows taken per cell for each mixture),
        ``"mixture_size"``.
    """
    from fairaudit.classification.heads import resolve_head, seed_estimator
    from fairaudit.common.threads import limited_threads
    from sklearn.base import clone

    X = data.normalized()
    y = np.asarray(data.column(target)).astype(str)
    g = np.asarray(data.column(by)).astype(str)
    ids = np.asarray(data.identity).astype(str)
    y6 = np.char.add(np.char.add(y, " & "), g)
    n = len(data)
    groups = sorted(set(g.tolist()))
    size = int(round(MIXTURE_FRACTION * n)) if mixture_size is None else int(mixture_size)
    base_head = resolve_head(head)
    all_rows = np.arange(n, dtype=np.int64)

    preds: list[pd.DataFrame] = []
    overlaps: list[dict[str, Any]] = []
    taken_by_mix: dict[str, dict[str, int]] = {}

    def fit_predict(train: np.ndarray, labels: np.ndarray, test_sets: dict[str, np.ndarray],
                    seed: int, task: str, model: str, k: int) -> None:
        est = seed_estimator(clone(base_head, safe=False), (seed + 7919 * k) % (2**31 - 1))
        with limited_threads():  # fairaudit's thread policy for small fits
            est.fit(X[train], labels[train])
            classes = np.asarray(est.classes_).astype(str)
            for tg, test in test_sets.items():
                proba = np.asarray(est.predict_proba(X[test]))
                preds.append(pd.DataFrame({
                    "seed": seed, "task": task, "model": model, "test_group": tg, "index": test,
                    "y_true": labels[test], "y_pred": classes[np.argmax(proba, axis=1)],
                }))
                train_ids = set(ids[train].tolist())
                overlaps.append({
                    "seed": seed, "task": task, "model": model, "test_group": tg,
                    "n_test": int(test.size), "n_train": int(train.size),
                    "overlap_rows": float(np.isin(test, train).mean()),
                    "overlap_identities": float(np.mean([i in train_ids for i in ids[test]])),
                })

    for seed in seeds:
        seed = int(seed)
        # 2.1: the per-ethnicity 67/33 splits (divide_embeddings)
        per_train, per_test = {}, {}
        for e in groups:
            per_train[e], per_test[e] = _split(all_rows[g == e], y, test_size, seed, f"ethnicity {e}")
        tests = dict(per_test)
        tests["all"] = np.sort(np.concatenate([per_test[e] for e in groups]))
        k = 0
        # 2.2: one head per ethnicity, scored on every ethnicity's test set
        for e in groups:
            fit_predict(per_train[e], y, tests, seed, "2.2", e, k)
            k += 1
        # 2.3-2.4: pooled head on its own split of all rows, scored on the 2.1 test sets (leak)
        pooled_train, _ = _split(all_rows, y, test_size, seed, "all rows (pooled head)")
        fit_predict(pooled_train, y, tests, seed, "2.4", "pooled", k)
        k += 1
        # 2.5: six-class head on its own split, scored on its own test part
        six_train, six_test = _split(all_rows, y6, test_size, seed, "all rows (six-class head)")
        six_tests = {e: six_test[g[six_test] == e] for e in groups}
        six_tests["all"] = six_test
        fit_predict(six_train, y6, six_tests, seed, "2.5", "six-class", k)
        k += 1
        # 2.6: biased mixtures (prefix of every cell), own split, scored on the 2.1 test sets (leak)
        for name, shares in STUDY_MIXTURES:
            rows, taken = mixture_rows(y, g, shares, size)
            taken_by_mix[name] = taken
            mix_train, _ = _split(rows, y, test_size, seed, f"mixture {name}")
            fit_predict(mix_train, y, tests, seed, "2.6", name, k)
            k += 1

    predictions = pd.concat(preds, ignore_index=True)[list(PREDICTION_COLUMNS)]
    return {
        "predictions": predictions,
        "overlap": pd.DataFrame(overlaps, columns=list(OVERLAP_COLUMNS)),
        "mixtures": taken_by_mix,
        "mixture_size": size,
    }
