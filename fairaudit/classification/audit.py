"""The classification audit: who trains a demographic classifier, and who it fails.

A classifier head (logistic regression, the study's Keras MLP, or any
scikit-learn classifier) predicts a target attribute (``gender``, or several
combined, e.g. the six ``gender & ethnicity`` classes) from face embeddings.
A split strategy decides which groups (e.g. ethnicities) train each model.
For every seed the audit

1. holds out ONE test set: whole identities, a ``test_size`` fraction of the
   identities of every group x target stratum (:func:`fairaudit.classification.splits.choose_test_set`);
2. lets the strategy draw the training rows of each model from the rest;
3. refuses any model that would train on an identity of the test set;
4. fits a clone of the head per model and scores every model on the same test set.

Accuracy per model x test group, fairlearn's per-group metrics and fairness
differences/ratios, ROC curves, confusion matrices, the exact splits and every
prediction are returned in a :class:`ClassificationResult`.

The reference study scored its pooled and biased models on test sets that
were mostly inside their training data (see ``docs/guide/classification.md``);
the single identity-disjoint test set above is what prevents that.

This module holds the audit itself; the result is in ``result``, its tables in
``metrics``, the seeds in ``seeds`` and the study protocol in ``protocol``
(their public names are importable from here too).
"""

from __future__ import annotations

import numbers
import time
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common.progress import progress_bar
from fairaudit.common import errors
from fairaudit.data import EmbeddingSet
from fairaudit.data import LABEL_SEP, normalize_by
from fairaudit.classification.heads import KerasMLPClassifier, head_name, resolve_head, seed_estimator
from fairaudit.common.provenance import provenance
from fairaudit.common.threads import limited_threads
from fairaudit.classification.labels import _labels, _normalize_target
from fairaudit.classification.metrics import (
    PERCENTILE_MIN_SEEDS,
    _confusion_table,
    _cross_table,
    _fairness_summary,
    _metric_tables,
    _roc_table,
)
from fairaudit.classification.result import ClassificationResult, _aligned_proba
from fairaudit.classification.seeds import _seed_streams, derive_seeds
from fairaudit.classification.splits import describe_split, resolve_split
from fairaudit.classification.test_sets import (
    BAD_INDICES,
    BAD_TEST_INDICES,
    EMPTY_TRAIN,
    check_identity_disjoint,
    check_test_size,
    choose_test_set,
)

# names defined here before the module was split, still importable from it
from fairaudit.classification.labels import EMPTY_TARGET  # noqa: F401
from fairaudit.classification.metrics import (  # noqa: F401
    BY_GROUP_METRICS,
    CROSS_COLUMNS,
    FAIRNESS_METRICS,
    macro_recall,
    seed_interval,
)
from fairaudit.classification.result import BAD_PREDICT_INPUT, BAD_PROBA, NO_MODELS_KEPT, WRONG_KIND  # noqa: F401
from fairaudit.classification.seeds import BAD_RANDOM_STATE  # noqa: F401
from fairaudit.classification.protocol import STUDY_MIXTURES, run_study_protocol  # noqa: F401

# --- error messages ---------------------------------------------------------
BAD_DATA = (
    "data must be a fairaudit.EmbeddingSet; got {type}. Fix: build one with "
    "fairaudit.EmbeddingSet(embeddings, identity=..., attributes=...)."
)
SINGLE_CLASS = (
    "target {target!r} has a single class {value!r} in the data; a classifier needs at "
    "least two. Fix: choose a target attribute with several values."
)
BAD_N_SEEDS = "n_seeds={value!r} must be an integer >= 1. Fix: pass e.g. n_seeds=3."
BAD_POS_LABEL = (
    "pos_label={value!r} is not a class of target {target!r}; classes: {classes}. Fix: "
    "pass one of them, or None for the last of the sorted classes."
)
POS_LABEL_MULTICLASS = (
    "pos_label={value!r} applies only to a binary target; target {target!r} has "
    "{n} classes. Fix: drop pos_label."
)
BAD_KEEP_MODELS = (
    "keep_models={value!r} must be 'all', 'last' or 'none'. Fix: pass one of them."
)
BAD_MODEL_NAME = (
    "split {split!r} yielded the model name {value!r}; model names must be non-empty "
    "strings, unique within an audit. Fix: rename the model (e.g. Mixture(..., name=...))."
)
NO_MODELS = "split {split!r} defined no model for seed {seed}. Fix: check the strategy."
MODEL_ONE_CLASS = (
    "split {split!r}: model {model!r} would train on a single target class {value!r} "
    "({n} rows). A classifier needs at least two classes. Fix: use another split (e.g. "
    "'pooled') or a target that varies within the training groups."
)


def _progress(total: int, enabled: bool | None):
    return progress_bar(total, enabled, "classification audit", unit="model")


def _clone(head: Any) -> Any:
    from sklearn.base import clone

    return clone(head, safe=False)


# --- the audit ----------------------------------------------------------------
def classification_audit(
    data: EmbeddingSet,
    *,
    target: str | Sequence[str],
    by: str | Sequence[str],
    head: Any = "logistic",
    split: Any = "per-group",
    n_seeds: int = 3,
    test_size: float = 0.33,
    size: int | None = None,
    ci: float = 0.95,
    pos_label: str | None = None,
    random_state: int | np.random.Generator | None = 0,
    keep_models: str = "all",
    progress: bool | None = None,
) -> ClassificationResult:
    """Train classifier heads on demographic splits and score them on one held-out test set.

    Parameters
    ----------
    data : EmbeddingSet
        Embeddings with identity and attributes. Features are the
        L2-normalised embeddings (``data.normalized()``).
    target : str or sequence of str
        Attribute to predict (``"gender"``), or several, combined into one
        label per sample (``["gender", "ethnicity"]``: the study's six-class
        head, labels ``"H & A"``...).
    by : str or sequence of str
        Attribute(s) defining the groups that splits are made of and that
        metrics are reported for (the sensitive features).
    head : str or estimator, default "logistic"
        ``"logistic"``, ``"mlp"`` (:class:`fairaudit.classification.heads.KerasMLPClassifier`)
        or any unfitted classifier with ``fit``/``predict_proba``. It is
        cloned before every fit; every ``random_state`` parameter of the clone
        is set from the seed.
    split : str, strategy or list, default "per-group"
        ``"per-group"``, ``"pooled"``, ``"leave-one-group-out"``,
        ``"mixture:B=0.6,A=0.3,N=0.1"``, a strategy object
        (:mod:`fairaudit.classification.splits`), or a list (a sweep).
    n_seeds : int, default 3
        Repetitions. Each seed draws a new test set, new training rows and new
        head initialisations.
    test_size : float, default 0.33
        Fraction of the identities of every group x target stratum held out.
        Ignored by a :class:`~fairaudit.classification.splits.CustomSplit`, which brings its
        own test set.
    size : int, optional
        Training rows of mixtures given without a size (None: the largest the
        pool can fill).
    ci : float, default 0.95
        Confidence level of the intervals over seeds.
    pos_label : str, optional
        Positive class of a binary target; default the last of the sorted
        classes (for gender ``{"H", "M"}``: ``"M"``). It defines TPR, FPR,
        selection rate, ROC and demographic parity.
    random_state : int, Generator or None, default 0
        Root of all randomness; resolved once to an int (recorded in
        ``params``) from which the per-seed seeds are spawned.
    keep_models : {"all", "last", "none"}, default "all"
        Which fitted models the result keeps for :meth:`ClassificationResult.predict`.
        The Keras head holds about 17 MB per model.
    progress : bool or None
        Show a progress bar over seeds x models (None: only on a terminal).

    Returns
    -------
    ClassificationResult

    Raises
    ------
    FairauditInputError
        On an unknown target or group attribute (the message lists the
        attributes), a single-class target, a bad ``test_size``, ``n_seeds``,
        ``ci``, ``pos_label`` or ``random_state``, a group x target stratum
        with fewer than 2 identities, a mixture the pool cannot fill, a split
        that puts an identity on both sides, or a model whose training rows
        have one class.

    Examples
    --------
    >>> import fairaudit
    >>> from fairaudit import synthetic
    >>> es = synthetic.population("diveface", n_identities=20, samples_per_identity=3, dim=32)
    >>> res = fairaudit.classification_audit(es, target="gender", by="ethnicity",
    ...                                      n_seeds=2, progress=False)
    >>> res.cross_table().shape
    (3, 4)
    """
    start = time.perf_counter()
    if not isinstance(data, EmbeddingSet):
        raise errors.FairauditInputError(BAD_DATA.format(type=type(data).__name__))
    target_t = _normalize_target(target, data.attribute_names)
    by_t = normalize_by(by, data.attribute_names)
    test_size = check_test_size(test_size)
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, numbers.Integral) or n_seeds < 1:
        raise errors.FairauditInputError(BAD_N_SEEDS.format(value=n_seeds))
    if isinstance(ci, bool) or not isinstance(ci, numbers.Real) or not 0.0 < float(ci) < 1.0:
        raise errors.FairauditInputError(errors.BAD_CI.format(value=ci))
    if keep_models not in ("all", "last", "none"):
        raise errors.FairauditInputError(BAD_KEEP_MODELS.format(value=keep_models))
    target_label = LABEL_SEP.join(target_t)
    by_label = LABEL_SEP.join(by_t)

    y = _labels(data, target_t, classes=True)
    g = _labels(data, by_t)
    ids = np.asarray(data.identity).astype(str)
    classes = np.unique(y)
    if classes.size < 2:
        raise errors.FairauditInputError(SINGLE_CLASS.format(target=target_label, value=str(classes[0])))
    binary = classes.size == 2
    if binary:
        if pos_label is None:
            pos = str(classes[-1])
        elif str(pos_label) in classes:
            pos = str(pos_label)
        else:
            raise errors.FairauditInputError(BAD_POS_LABEL.format(
                value=pos_label, target=target_label, classes=classes.tolist()))
    else:
        if pos_label is not None:
            raise errors.FairauditInputError(POS_LABEL_MULTICLASS.format(
                value=pos_label, target=target_label, n=classes.size))
        pos = None
    group_labels = tuple(str(x) for x in np.unique(g))

    head_est = resolve_head(head)
    head_label = head_name(head)
    strategy = resolve_split(split, size)
    split_label = str(strategy.name)
    root, seeds = derive_seeds(random_state, n_seeds)
    fixed_test = getattr(strategy, "test", None)
    X = data.normalized()
    n = len(data)

    bar = None
    model_order: list[str] = []
    pred_frames: list[pd.DataFrame] = []
    split_frames: list[pd.DataFrame] = []
    train_frames: list[pd.DataFrame] = []
    fitted: dict[tuple[int, str], tuple[Any, np.ndarray]] = {}
    try:
        for k, seed in enumerate(seeds):
            test_rng, train_rng, head_rng = _seed_streams(seed)
            if fixed_test is not None:
                test = np.unique(np.asarray(fixed_test, dtype=np.int64))
                if test.min() < 0 or test.max() >= n:
                    raise errors.FairauditInputError(BAD_TEST_INDICES.format(
                        split=split_label, n_max=n - 1, bad=test[(test < 0) | (test >= n)][:5].tolist()))
            else:
                test = choose_test_set(g, y, ids, test_size=test_size, rng=test_rng,
                                       by_name=by_label, target_name=target_label)
            pool = np.setdiff1d(np.arange(n), test)
            sets = list(strategy.train_sets(pool, groups=g, target=y, identity=ids, rng=train_rng))
            if not sets:
                raise errors.FairauditInputError(NO_MODELS.format(split=split_label, seed=seed))
            seen: set[str] = set()
            for model, rows in sets:
                if not isinstance(model, str) or not model or model in seen:
                    raise errors.FairauditInputError(BAD_MODEL_NAME.format(split=split_label, value=model))
                seen.add(model)
                rows = np.asarray(rows)
                if rows.size == 0:
                    raise errors.FairauditInputError(EMPTY_TRAIN.format(split=split_label, model=model))
                if not np.issubdtype(rows.dtype, np.integer) or rows.min() < 0 or rows.max() >= n:
                    bad = rows[(rows < 0) | (rows >= n)][:5].tolist() if np.issubdtype(
                        rows.dtype, np.number) else rows[:5].tolist()
                    raise errors.FairauditInputError(BAD_INDICES.format(
                        split=split_label, model=model, n_max=n - 1, bad=bad))
                check_identity_disjoint(rows, test, ids, model=model, split=split_label)
                present = np.unique(y[rows])
                if present.size < 2:
                    raise errors.FairauditInputError(MODEL_ONE_CLASS.format(
                        split=split_label, model=model, value=str(present[0]), n=rows.size))
            if k == 0:
                model_order = [m for m, _ in sets]
                bar = _progress(len(seeds) * len(sets), progress)
            elif bar is not None and len(sets) != len(model_order):
                bar.total = bar.n + (len(seeds) - k) * len(sets)

            for model, rows in sets:
                rows = np.sort(np.asarray(rows, dtype=np.int64))
                est = seed_estimator(_clone(head_est), int(head_rng.integers(0, 2**31 - 1)))
                with limited_threads():
                    est.fit(X[rows], y[rows])
                    train_classes = np.unique(y[rows])
                    proba = _aligned_proba(est, X[test], classes, train_classes, head_label)
                frame = pd.DataFrame({
                    "seed": seed, "model": model, "index": test, "identity": ids[test],
                    "group": g[test], "y_true": y[test], "y_pred": classes[np.argmax(proba, axis=1)],
                })
                for j, c in enumerate(classes):
                    frame[f"proba_{c}"] = proba[:, j]
                pred_frames.append(frame)
                split_frames.append(pd.DataFrame({"seed": seed, "model": model, "role": "train",
                                                  "index": rows}))
                split_frames.append(pd.DataFrame({"seed": seed, "model": model, "role": "test",
                                                  "index": test}))
                comp = (pd.DataFrame({"group": g[rows], "target": y[rows]})
                        .value_counts(sort=False).rename("n_train").reset_index())
                comp.insert(0, "model", model)
                comp.insert(0, "seed", seed)
                train_frames.append(comp.sort_values(["group", "target"]))
                if keep_models == "all" or (keep_models == "last" and k == len(seeds) - 1):
                    fitted[(seed, model)] = (est, train_classes)
                if bar is not None:
                    bar.update(1)
            for model, _ in sets:
                if model not in model_order:
                    model_order.append(model)
    finally:
        if bar is not None:
            bar.close()

    predictions = pd.concat(pred_frames, ignore_index=True)
    notes: list[str] = []
    if not binary:
        notes.append(
            f"target {target_label!r} has {classes.size} classes: tpr, fpr, selection_rate, "
            "roc_auc, ROC curves, demographic parity and equalized odds are defined for binary "
            "targets only and are reported as NaN / left empty; see accuracy, recall_macro and "
            "the confusion matrices.")
    if len(seeds) == 1:
        notes.append("one seed: standard deviations and confidence intervals are NaN.")
    notes.append(
        f"intervals are {'percentile' if len(seeds) >= PERCENTILE_MIN_SEEDS else 'Student-t'} "
        f"intervals over the {len(seeds)} seed(s): they reflect the variability of the test "
        "split, training draws and head initialisation, not sampling of the population.")

    by_group, fair_seed = _metric_tables(predictions, model_order, group_labels, classes, pos, by_label)
    result = ClassificationResult(
        target=target_t,
        by=by_t,
        classes=tuple(str(c) for c in classes),
        groups=group_labels,
        pos_label=pos,
        models=tuple(model_order),
        seeds=tuple(seeds),
        cross=_cross_table(predictions, model_order, group_labels, float(ci)),
        by_group=by_group,
        fairness=_fairness_summary(fair_seed, model_order, float(ci)),
        fairness_by_seed=fair_seed,
        roc=_roc_table(predictions, model_order, group_labels, pos),
        confusion=_confusion_table(predictions, model_order, group_labels, classes),
        splits=pd.concat(split_frames, ignore_index=True),
        training=pd.concat(train_frames, ignore_index=True),
        predictions=predictions,
        params={
            "target": list(target_t),
            "by": list(by_t),
            "head": head_label,
            "head_params": _jsonable_params(head_est),
            "split": describe_split(strategy),
            "n_seeds": int(n_seeds),
            "test_size": test_size if fixed_test is None else None,
            "size": size,
            "ci": float(ci),
            "pos_label": pos,
            "random_state": root,
            "keep_models": keep_models,
            "n_samples": n,
            "n_features": int(data.n_features),
        },
        provenance=provenance(elapsed_s=time.perf_counter() - start,
                              extra_packages=("tensorflow", "tf-keras")
                              if isinstance(head_est, KerasMLPClassifier) else ()),
        notes=notes,
        fitted=fitted,
    )
    return result


def _jsonable_params(est: Any) -> dict[str, Any]:
    get_params = getattr(est, "get_params", None)
    if get_params is None:
        return {}
    out = {}
    for key, value in get_params(deep=True).items():
        if value is None or isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif isinstance(value, (np.integer, np.floating)):
            out[key] = value.item()
    return out
