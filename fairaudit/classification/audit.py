"""The classification audit: who trains a demographic classifier, and who it fails.

A classifier head (logistic regression, the study's Keras MLP, or any
scikit-learn classifier) predicts a target attribute (``gender``, or several
combined, e.g. the six ``gender & ethnicity`` classes) from face embeddings.
A split strategy decides which groups (e.g. ethnicities) train each model.
For every seed the audit

1. holds out ONE test set: whole identities, a ``test_size`` fraction of the
   identities of every group x target stratum (:func:`fairaudit.splits.choose_test_set`);
2. lets the strategy draw the training rows of each model from the rest;
3. refuses any model that would train on an identity of the test set;
4. fits a clone of the head per model and scores every model on the same test set.

Accuracy per model x test group, fairlearn's per-group metrics and fairness
differences/ratios, ROC curves, confusion matrices, the exact splits and every
prediction are returned in a :class:`ClassificationResult`.

The reference study scored its pooled and biased models on test sets that
were mostly inside their training data (see ``docs/guide/classification.md``);
the single identity-disjoint test set above is what prevents that.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data import EmbeddingSet
from fairaudit.data import LABEL_SEP, POOLED, make_groups, normalize_by
from fairaudit.classification.heads import KerasMLPClassifier, head_name, resolve_head, seed_estimator
from fairaudit.common.provenance import provenance
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.common.threads import limited_threads
from fairaudit.classification.splits import (
    BAD_INDICES,
    BAD_TEST_INDICES,
    EMPTY_TRAIN,
    Mixture,
    MixtureSweep,
    _cells,
    check_identity_disjoint,
    check_test_size,
    choose_test_set,
    describe_split,
    resolve_split,
)
from fairaudit.common.results import ResultOutput

# --- error messages ---------------------------------------------------------
BAD_DATA = (
    "data must be a fairaudit.EmbeddingSet; got {type}. Fix: build one with "
    "fairaudit.EmbeddingSet(embeddings, identity=..., attributes=...)."
)
EMPTY_TARGET = (
    "target must name at least one attribute; got {value!r}. Fix: pass e.g. "
    "target='gender' or target=['gender', 'ethnicity']."
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
BAD_RANDOM_STATE = (
    "random_state={value!r} must be None, an integer >= 0 or a numpy.random.Generator. "
    "Fix: pass e.g. random_state=0."
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
BAD_PROBA = (
    "head {head!r} returned probabilities of shape {shape} for {n} samples and "
    "{k} classes {classes}. Fix: the head's predict_proba must return one column per "
    "entry of its classes_."
)
NO_MODELS_KEPT = (
    "this result holds no fitted model for seed {seed} (kept seeds: {kept}); results "
    "loaded from JSON or run with keep_models='none' cannot predict. Fix: rerun the "
    "audit with keep_models='all' (or 'last' for the last seed)."
)
BAD_PREDICT_INPUT = (
    "embeddings must have shape (n_samples, {d}) like the audited data, with finite "
    "rows of non-zero norm; got shape {shape}. Fix: pass embeddings from the same "
    "extractor."
)
WRONG_KIND = (
    "data has kind={value!r}, expected {kind!r}. Fix: pass the JSON written by "
    "{cls}.to_json()."
)

#: columns of ``ClassificationResult.cross``
CROSS_COLUMNS = ("model", "test_group", "accuracy_mean", "accuracy_std", "ci_low", "ci_high",
                 "n_seeds", "n_test")
#: metric columns of ``ClassificationResult.by_group``
BY_GROUP_METRICS = ("accuracy", "recall_macro", "tpr", "fpr", "selection_rate", "roc_auc")
#: per-model fairness figures (the first four need a binary target)
FAIRNESS_METRICS = ("demographic_parity_difference", "demographic_parity_ratio",
                    "equalized_odds_difference", "equalized_odds_ratio",
                    "accuracy_difference", "accuracy_ratio")
_BINARY_ONLY = frozenset(FAIRNESS_METRICS[:4]) | {"tpr", "fpr", "selection_rate", "roc_auc"}
#: from this many seeds on, intervals are percentiles of the per-seed values
PERCENTILE_MIN_SEEDS = 30
#: the study's biased training mixes (task 2.6)
STUDY_MIXTURES = (
    ("B60-A30-N10", {"B": 0.6, "A": 0.3, "N": 0.1}),
    ("N80-A20-B0", {"N": 0.8, "A": 0.2, "B": 0.0}),
)

# column dtypes restored by ``from_dict`` (JSON has no int/float distinction for nulls)
_INT_COLUMNS = {"seed", "n_seeds", "n_test", "n", "index", "count", "n_train"}
_FLOAT_COLUMNS = {"accuracy_mean", "accuracy_std", "ci_low", "ci_high", "value", "mean", "std",
                  "fpr", "tpr", "threshold", "auc", *BY_GROUP_METRICS}


# --- small numeric helpers ----------------------------------------------------
def seed_interval(values: Any, ci: float) -> tuple[float, float]:
    """Interval for the mean of per-seed values, clipped to [0, 1].

    Student-t interval ``mean +- t_{(1+ci)/2, n-1} * sd / sqrt(n)`` for fewer
    than :data:`PERCENTILE_MIN_SEEDS` seeds; from that many on, the
    ``(1-ci)/2`` and ``(1+ci)/2`` percentiles of the values. NaN values are
    ignored; fewer than two values give ``(nan, nan)``.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = v.size
    if n < 2:
        return math.nan, math.nan
    if n >= PERCENTILE_MIN_SEEDS:
        lo, hi = np.quantile(v, [(1 - ci) / 2, (1 + ci) / 2])
    else:
        from scipy.special import stdtrit  # Student-t quantile; lighter than scipy.stats

        half = float(stdtrit(n - 1, (1 + ci) / 2)) * float(v.std(ddof=1)) / math.sqrt(n)
        lo, hi = v.mean() - half, v.mean() + half
    return float(min(max(lo, 0.0), 1.0)), float(min(max(hi, 0.0), 1.0))


def _summarise(values: np.ndarray, ci: float) -> dict[str, float]:
    v = np.asarray(values, dtype=np.float64)
    finite = v[np.isfinite(v)]
    lo, hi = seed_interval(finite, ci)
    return {
        "mean": float(finite.mean()) if finite.size else math.nan,
        "std": float(finite.std(ddof=1)) if finite.size > 1 else math.nan,
        "ci_low": lo,
        "ci_high": hi,
        "n_seeds": int(finite.size),
    }


def macro_recall(y_true: Any, y_pred: Any) -> float:
    """Mean over the classes present in ``y_true`` of the share predicted correctly.

    Classes absent from ``y_true`` (e.g. other ethnicities in a per-group
    slice of a six-class target) are ignored rather than counted as 0.
    """
    y_true = np.asarray(y_true)
    y_pred = np.asarray(y_pred)
    classes = np.unique(y_true)
    if classes.size == 0:
        return math.nan
    return float(np.mean([np.mean(y_pred[y_true == c] == c) for c in classes]))


def _roc_auc(y_true: Any, y_pred: Any, *, y_score: Any) -> float:
    from sklearn.metrics import roc_auc_score

    y_true = np.asarray(y_true)
    if np.unique(y_true).size < 2:
        return math.nan
    return float(roc_auc_score(y_true, np.asarray(y_score)))


def _count(y_true: Any, y_pred: Any) -> int:
    return int(len(y_true))


def _resolve_seed(random_state: Any) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**63 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise errors.FairauditInputError(BAD_RANDOM_STATE.format(value=random_state))


def derive_seeds(random_state: Any, n_seeds: int) -> tuple[int, list[int]]:
    """The resolved root seed and ``n_seeds`` child seeds (``numpy.random.SeedSequence.spawn``).

    Seed ``k`` of an audit depends only on ``random_state`` and ``k``, so
    audits run with the same ``random_state`` share their seeds (and, for
    equivalent strata, their test sets).
    """
    root = _resolve_seed(random_state)
    children = np.random.SeedSequence(root).spawn(int(n_seeds))
    return root, [int(c.generate_state(1, dtype=np.uint32)[0]) for c in children]


def _seed_streams(seed: int) -> tuple[np.random.Generator, np.random.Generator, np.random.Generator]:
    """Independent generators of one seed: test split, training draws, head seeds."""
    test_ss, train_ss, head_ss = np.random.SeedSequence(seed).spawn(3)
    return (np.random.default_rng(test_ss), np.random.default_rng(train_ss),
            np.random.default_rng(head_ss))


def _labels(data: EmbeddingSet, names: tuple[str, ...], *, classes: bool = False) -> np.ndarray:
    """Label of every sample: its group's (or, ``classes=True``, its target class's) unique label."""
    groups = make_groups({n: data.column(n) for n in names}, names)
    labels = groups.class_labels() if classes else groups.labels
    return np.asarray(labels, dtype=object)[groups.codes].astype(str)


def _normalize_target(target: Any, available: Sequence[str]) -> tuple[str, ...]:
    if target is None or (not isinstance(target, str) and len(target) == 0):
        raise errors.FairauditInputError(EMPTY_TARGET.format(value=target))
    names = (target,) if isinstance(target, str) else tuple(target)
    for name in names:
        if not isinstance(name, str) or name not in available:
            raise errors.FairauditInputError(
                errors.UNKNOWN_ATTRIBUTE.format(name="target", value=name, available=list(available)))
    return names


def _progress(total: int, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="classification audit", unit="model", leave=False)


def _clone(head: Any) -> Any:
    from sklearn.base import clone

    return clone(head, safe=False)


def _aligned_proba(est: Any, X: np.ndarray, classes: np.ndarray, train_classes: np.ndarray,
                   head_label: str) -> np.ndarray:
    proba = np.asarray(est.predict_proba(X), dtype=np.float64)
    model_classes = np.asarray(getattr(est, "classes_", train_classes)).astype(str)
    if proba.ndim != 2 or proba.shape != (len(X), len(model_classes)):
        raise errors.FairauditInputError(BAD_PROBA.format(
            head=head_label, shape=proba.shape, n=len(X), k=len(model_classes),
            classes=model_classes.tolist()))
    out = np.zeros((len(X), len(classes)))
    out[:, np.searchsorted(classes, model_classes)] = proba
    return out


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X.astype(np.float64), axis=1)
    return (X / norms[:, None]).astype(np.float32)


# --- the result ---------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ClassificationResult(ResultOutput):
    """What :func:`classification_audit` found.

    Attributes
    ----------
    target : tuple of str
        The attribute(s) predicted; several are combined into one label per
        sample, ``"H & A"`` style.
    by : tuple of str
        The attribute(s) that define the groups.
    classes : tuple of str
        Target classes, sorted (column order of the ``proba_<class>`` columns).
    groups : tuple of str
        Group labels, sorted.
    pos_label : str or None
        Positive class of a binary target (selection rate, TPR, FPR, ROC);
        None for a multi-class target.
    models : tuple of str
        Model names in the order the split strategy defines them.
    seeds : tuple of int
        The per-seed seeds, derived from ``random_state`` with
        ``numpy.random.SeedSequence(random_state).spawn(n_seeds)``.
    cross : DataFrame
        Model x test group accuracy (the study's 3x3 table, plus
        ``test_group="all"``, the whole test set). Columns: ``model``,
        ``test_group``, ``accuracy_mean`` (mean over seeds), ``accuracy_std``
        (sample std over seeds, NaN for one seed), ``ci_low``/``ci_high``
        (:func:`seed_interval`: Student-t over seeds, percentile from 30
        seeds on, clipped to [0, 1]; NaN for one seed), ``n_seeds``,
        ``n_test`` (test rows of the group per seed; the rounded mean when it
        varies between seeds).
    by_group : DataFrame
        fairlearn ``MetricFrame`` figures per seed, model and group (plus
        ``group="all"`` from ``MetricFrame.overall``). Columns: ``seed``,
        ``model``, ``group``, ``n``, ``accuracy``, ``recall_macro`` (mean
        per-class recall over the classes present in the group), ``tpr``,
        ``fpr``, ``selection_rate`` (share predicted ``pos_label``),
        ``roc_auc`` (of ``proba_<pos_label>``). The last four are NaN for a
        multi-class target (see ``notes``).
    fairness : DataFrame
        Per model and figure, over seeds. Columns: ``model``, ``metric``,
        ``mean``, ``std``, ``ci_low``, ``ci_high``, ``n_seeds``. Figures
        (:data:`FAIRNESS_METRICS`): fairlearn's
        ``demographic_parity_difference``/``_ratio`` and
        ``equalized_odds_difference``/``_ratio`` across the test groups
        (binary targets only, positive class ``pos_label``; NaN otherwise),
        and ``accuracy_difference``/``accuracy_ratio`` (between groups, from
        ``MetricFrame.difference()``/``ratio()``).
    fairness_by_seed : DataFrame
        The same figures per seed: ``seed``, ``model``, ``metric``, ``value``.
    roc : DataFrame
        ROC curves per seed, model and group (``"all"`` = whole test set),
        from ``sklearn.metrics.roc_curve`` of ``proba_<pos_label>``. Columns:
        ``seed``, ``model``, ``group``, ``fpr``, ``tpr``, ``threshold`` (the
        first is ``inf``: nothing accepted), ``auc``. Empty for multi-class.
    confusion : DataFrame
        Confusion counts summed over seeds, every (true, predicted) pair
        listed (zeros included). Columns: ``model``, ``group`` (``"all"`` =
        whole test set), ``true``, ``predicted``, ``count``.
    splits : DataFrame
        Who trained and who tested every model: ``seed``, ``model``,
        ``role`` (``"train"`` or ``"test"``), ``index`` (row of the data).
        Check it with :meth:`check_no_leakage`.
    training : DataFrame
        Composition of every training set: ``seed``, ``model``, ``group``,
        ``target`` (class), ``n_train``.
    predictions : DataFrame
        One row per seed x model x test sample: ``seed``, ``model``, ``index``,
        ``identity``, ``group``, ``y_true``, ``y_pred`` (the class with the
        highest probability), ``proba_<class>`` for every class (0 for classes
        the model never saw in training).
    params : dict
        The arguments that produced the result (random_state resolved to an int).
    provenance : dict
        Package versions (python, numpy, pandas, scikit-learn, fairlearn,
        fairaudit, ...), BLAS, time.
    notes : list of str
        Plain-language remarks: figures not reported and why.
    """

    target: tuple
    by: tuple
    classes: tuple
    groups: tuple
    pos_label: str | None
    models: tuple
    seeds: tuple
    cross: pd.DataFrame
    by_group: pd.DataFrame
    fairness: pd.DataFrame
    fairness_by_seed: pd.DataFrame
    roc: pd.DataFrame
    confusion: pd.DataFrame
    splits: pd.DataFrame
    training: pd.DataFrame
    predictions: pd.DataFrame
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)
    fitted: dict = field(default_factory=dict, repr=False)

    kind = "classification"
    _TABLES = ("cross", "by_group", "fairness", "fairness_by_seed", "roc", "confusion", "splits",
               "training", "predictions")

    @property
    def is_binary(self) -> bool:
        return len(self.classes) == 2

    def cross_table(self, *, include_all: bool = True) -> pd.DataFrame:
        """Model x test group matrix of mean accuracy (rows: models, columns: groups).

        Parameters
        ----------
        include_all : bool, default True
            Keep the ``"all"`` column (accuracy on the whole test set).
        """
        table = self.cross.pivot(index="model", columns="test_group", values="accuracy_mean")
        columns = [g for g in self.groups if g in table.columns]
        if include_all and POOLED in table.columns:
            columns.append(POOLED)
        table = table.reindex(index=list(self.models), columns=columns)
        table.index.name = "model"
        table.columns.name = "test_group"
        return table

    def check_no_leakage(self, identity: Any) -> None:
        """Assert that no identity is in the training set and the test set of one model.

        Parameters
        ----------
        identity : array-like or EmbeddingSet
            Identity of every row of the audited data (``data.identity``).

        Raises
        ------
        AssertionError
            Naming the seed, the model and the shared identities.
        """
        ids = np.asarray(identity.identity if isinstance(identity, EmbeddingSet) else identity)
        for (seed, model), part in self.splits.groupby(["seed", "model"], sort=False):
            train = part.loc[part["role"] == "train", "index"].to_numpy()
            test = part.loc[part["role"] == "test", "index"].to_numpy()
            shared = np.intersect1d(ids[train], ids[test])
            if shared.size:
                raise AssertionError(
                    f"seed {seed}, model {model!r}: {shared.size} identities in both the "
                    f"training and the test set, e.g. {[str(x) for x in shared[:10]]}")

    def predict(self, embeddings: Any, *, seed: int | None = None) -> pd.DataFrame:
        """Class probabilities of every model for new samples (the study's single-image checks).

        Parameters
        ----------
        embeddings : array-like of shape (n_samples, n_features) or EmbeddingSet
            Rows are L2-normalised, as the training features were.
        seed : int, optional
            Which seed's models to use (a value of ``seeds``); default the last.

        Returns
        -------
        DataFrame
            One row per sample x model: ``sample`` (row number), ``seed``,
            ``model``, ``y_pred``, ``proba_<class>`` for every class.
        """
        seed = self.seeds[-1] if seed is None else int(seed)
        kept = sorted({s for s, _ in self.fitted})
        if seed not in kept:
            raise errors.FairauditInputError(NO_MODELS_KEPT.format(seed=seed, kept=kept))
        d = int(self.params.get("n_features", 0))
        if isinstance(embeddings, EmbeddingSet):
            X = embeddings.normalized()
        else:
            raw = np.asarray(embeddings, dtype=np.float32)
            if raw.ndim == 1:
                raw = raw[None, :]
            norms = np.linalg.norm(raw, axis=1) if raw.ndim == 2 else np.array([0.0])
            if raw.ndim != 2 or not np.all(np.isfinite(raw)) or np.any(norms == 0):
                raise errors.FairauditInputError(BAD_PREDICT_INPUT.format(d=d, shape=raw.shape))
            X = _unit_rows(raw)
        if X.shape[1] != d:
            raise errors.FairauditInputError(BAD_PREDICT_INPUT.format(d=d, shape=X.shape))
        classes = np.asarray(self.classes, dtype=str)
        frames = []
        for model in self.models:
            est, train_classes = self.fitted[(seed, model)]
            proba = _aligned_proba(est, X, classes, train_classes, str(self.params.get("head")))
            frame = pd.DataFrame({
                "sample": np.arange(len(X)),
                "seed": seed,
                "model": model,
                "y_pred": classes[np.argmax(proba, axis=1)],
            })
            for j, c in enumerate(classes):
                frame[f"proba_{c}"] = proba[:, j]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> str:
        """Plain text: the cross accuracy table and the mean fairness figures."""
        lines = [
            f"Classification audit: target {' x '.join(self.target)} by {' x '.join(self.by)}, "
            f"head {self.params.get('head')}, split {self.params.get('split', {}).get('name')}, "
            f"{len(self.seeds)} seed(s)",
            "",
            "Accuracy, model (rows) x test group (columns), mean over seeds:",
            self.cross_table().to_string(float_format=lambda v: f"{v:.4f}"),
        ]
        fair = self.fairness.pivot(index="model", columns="metric", values="mean")
        fair = fair.reindex(index=list(self.models),
                            columns=[m for m in FAIRNESS_METRICS if m in fair.columns])
        fair = fair.dropna(axis=1, how="all")
        if not fair.empty:
            lines += ["", "Fairness across test groups, mean over seeds:",
                      fair.to_string(float_format=lambda v: f"{v:.4f}")]
        if self.notes:
            lines += ["", *(f"note: {n}" for n in self.notes)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of the result (tables, parameters, provenance).

        Fitted models are not included. NaN and the infinite first ROC
        threshold become null.
        """
        out: dict[str, Any] = {
            "kind": self.kind,
            "target": list(self.target),
            "by": list(self.by),
            "classes": list(self.classes),
            "groups": list(self.groups),
            "pos_label": self.pos_label,
            "models": list(self.models),
            "seeds": list(self.seeds),
            "params": self.params,
            "provenance": self.provenance,
            "notes": list(self.notes),
        }
        for name in self._TABLES:
            out[name] = frame_to_dict(getattr(self, name))
        return to_jsonable(out)


    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ClassificationResult":
        """Rebuild a result (without fitted models) from :meth:`to_dict` output."""
        if data.get("kind") != cls.kind:
            raise errors.FairauditInputError(
                WRONG_KIND.format(value=data.get("kind"), kind=cls.kind, cls=cls.__name__))
        tables = {name: _restore(frame_from_dict(data[name]), name) for name in cls._TABLES}
        return cls(
            target=tuple(data["target"]),
            by=tuple(data["by"]),
            classes=tuple(data["classes"]),
            groups=tuple(data["groups"]),
            pos_label=data.get("pos_label"),
            models=tuple(data["models"]),
            seeds=tuple(int(s) for s in data["seeds"]),
            params=data["params"],
            provenance=data["provenance"],
            notes=list(data.get("notes", [])),
            **tables,
        )

    def __repr__(self) -> str:
        return (f"ClassificationResult(target={list(self.target)}, by={list(self.by)}, "
                f"models={list(self.models)}, seeds={len(self.seeds)})")


def _restore(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Give a table read from JSON the dtypes it was written with."""
    frame = frame.copy()
    for column in frame.columns:
        if column in _INT_COLUMNS:
            frame[column] = frame[column].astype(np.int64)
        elif column in _FLOAT_COLUMNS or column.startswith("proba_"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(np.float64)
    if name == "roc" and "threshold" in frame.columns:
        # roc_curve's first threshold is +inf, which JSON stores as null
        frame["threshold"] = frame["threshold"].fillna(np.inf)
    return frame.reset_index(drop=True)


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=np.float64 if c in _FLOAT_COLUMNS else
                                      np.int64 if c in _INT_COLUMNS else object) for c in columns})


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
        ``"logistic"``, ``"mlp"`` (:class:`fairaudit.heads.KerasMLPClassifier`)
        or any unfitted classifier with ``fit``/``predict_proba``. It is
        cloned before every fit; every ``random_state`` parameter of the clone
        is set from the seed.
    split : str, strategy or list, default "per-group"
        ``"per-group"``, ``"pooled"``, ``"leave-one-group-out"``,
        ``"mixture:B=0.6,A=0.3,N=0.1"``, a strategy object
        (:mod:`fairaudit.splits`), or a list (a sweep).
    n_seeds : int, default 3
        Repetitions. Each seed draws a new test set, new training rows and new
        head initialisations.
    test_size : float, default 0.33
        Fraction of the identities of every group x target stratum held out.
        Ignored by a :class:`~fairaudit.splits.CustomSplit`, which brings its
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


# --- tables -------------------------------------------------------------------
def _ordered(frame: pd.DataFrame, models: Sequence[str], groups: Sequence[str],
             group_col: str, seed_order: dict | None = None) -> pd.DataFrame:
    """Sort rows by seed (in audit order), model (in strategy order), then group."""
    order_m = {m: i for i, m in enumerate(models)}
    order_g = {gl: i for i, gl in enumerate([*groups, POOLED])}
    keys = ["_m", "_g"]
    frame = frame.assign(_m=frame["model"].map(order_m), _g=frame[group_col].map(order_g))
    if seed_order is not None and "seed" in frame.columns:
        frame = frame.assign(_s=frame["seed"].map(seed_order))
        keys = ["_s", *keys]
    frame = frame.sort_values(keys, kind="stable")
    return frame.drop(columns=[c for c in ("_s", "_m", "_g") if c in frame.columns]).reset_index(drop=True)


def _cross_table(pred: pd.DataFrame, models: Sequence[str], groups: Sequence[str],
                 ci: float) -> pd.DataFrame:
    correct = pred.assign(correct=(pred["y_true"] == pred["y_pred"]).astype(np.float64))
    per_group = correct.groupby(["seed", "model", "group"], sort=False)["correct"].agg(["mean", "size"])
    overall = correct.groupby(["seed", "model"], sort=False)["correct"].agg(["mean", "size"])
    overall["group"] = POOLED
    per_seed = pd.concat([per_group.reset_index(),
                          overall.reset_index()], ignore_index=True)
    rows = []
    for (model, group), part in per_seed.groupby(["model", "group"], sort=False):
        stats = _summarise(part["mean"].to_numpy(), ci)
        rows.append({
            "model": model, "test_group": group,
            "accuracy_mean": stats["mean"], "accuracy_std": stats["std"],
            "ci_low": stats["ci_low"], "ci_high": stats["ci_high"],
            "n_seeds": int(part["seed"].nunique()),
            "n_test": int(round(float(part["size"].mean()))),
        })
    frame = pd.DataFrame(rows, columns=list(CROSS_COLUMNS))
    return _ordered(frame, models, groups, "test_group")


def _metric_tables(pred: pd.DataFrame, models: Sequence[str], groups: Sequence[str],
                   classes: np.ndarray, pos: str | None, by_label: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group metrics and fairness figures from ONE fairlearn MetricFrame.

    The groups are the sensitive feature; seed and model are fairlearn
    *control features*, so ``by_group``, ``overall``, ``difference()`` and
    ``ratio()`` come out per seed and model. The fairness figures are the
    aggregations fairlearn's own functions perform:
    ``demographic_parity_difference`` is the between-groups difference of
    the selection rate (``ratio`` likewise), ``equalized_odds_difference``
    the larger of the TPR and FPR differences and ``equalized_odds_ratio``
    the smaller of their ratios (``agg="worst_case"``).
    """
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    y_true = pred["y_true"].to_numpy().astype(str)
    y_pred = pred["y_pred"].to_numpy().astype(str)
    metrics: dict[str, Any] = {"n": _count, "accuracy": accuracy_score, "recall_macro": macro_recall}
    sample_params: dict[str, Any] = {}
    if pos is not None:
        yt = (y_true == pos).astype(int)
        yp = (y_pred == pos).astype(int)
        metrics.update(tpr=true_positive_rate, fpr=false_positive_rate,
                       selection_rate=selection_rate, roc_auc=_roc_auc)
        sample_params["roc_auc"] = {"y_score": pred[f"proba_{pos}"].to_numpy()}
    else:
        yt, yp = y_true, y_pred
    controls = pd.DataFrame({"seed": pred["seed"].to_numpy(), "model": pred["model"].to_numpy()})
    mf = MetricFrame(metrics=metrics, y_true=yt, y_pred=yp,
                     sensitive_features=pd.Series(pred["group"].to_numpy(), name="group"),
                     control_features=controls, sample_params=sample_params or None)

    by_group = mf.by_group.reset_index()
    overall = mf.overall.reset_index()
    overall["group"] = POOLED
    by_group = pd.concat([by_group, overall], ignore_index=True)
    for column in BY_GROUP_METRICS:
        by_group[column] = (pd.to_numeric(by_group[column], errors="coerce").astype(np.float64)
                            if column in by_group.columns else np.nan)
    by_group["n"] = by_group["n"].astype(np.int64)
    by_group["seed"] = by_group["seed"].astype(np.int64)
    by_group["group"] = by_group["group"].astype(str)
    by_group = by_group[["seed", "model", "group", "n", *BY_GROUP_METRICS]]

    diff = mf.difference(method="between_groups")
    ratio = mf.ratio(method="between_groups")
    figures = pd.DataFrame(index=diff.index)
    figures["accuracy_difference"] = diff["accuracy"]
    figures["accuracy_ratio"] = ratio["accuracy"]
    if pos is not None:
        figures["demographic_parity_difference"] = diff["selection_rate"]
        figures["demographic_parity_ratio"] = ratio["selection_rate"]
        figures["equalized_odds_difference"] = diff[["tpr", "fpr"]].max(axis=1)
        figures["equalized_odds_ratio"] = ratio[["tpr", "fpr"]].min(axis=1)
    figures = figures.reindex(columns=list(FAIRNESS_METRICS))
    fair = (figures.reset_index().melt(id_vars=["seed", "model"], var_name="metric", value_name="value"))
    fair["seed"] = fair["seed"].astype(np.int64)
    fair["value"] = fair["value"].astype(np.float64)
    seed_order = {s: i for i, s in enumerate(pd.unique(pred["seed"]))}
    return (_ordered(by_group, models, groups, "group", seed_order),
            _ordered(fair, models, FAIRNESS_METRICS, "metric", seed_order))


def _fairness_summary(fair_seed: pd.DataFrame, models: Sequence[str], ci: float) -> pd.DataFrame:
    rows = []
    for model in models:
        for metric in FAIRNESS_METRICS:
            values = fair_seed.loc[(fair_seed["model"] == model) & (fair_seed["metric"] == metric), "value"]
            stats = _summarise(values.to_numpy(), ci)
            rows.append({"model": model, "metric": metric, **stats})
    return pd.DataFrame(rows, columns=["model", "metric", "mean", "std", "ci_low", "ci_high", "n_seeds"])


def _roc_table(pred: pd.DataFrame, models: Sequence[str], groups: Sequence[str],
               pos: str | None) -> pd.DataFrame:
    columns = ["seed", "model", "group", "fpr", "tpr", "threshold", "auc"]
    if pos is None:
        return _empty(columns)
    from sklearn.metrics import auc, roc_curve

    frames = []
    for (seed, model), part in pred.groupby(["seed", "model"], sort=False):
        score = part[f"proba_{pos}"].to_numpy()
        truth = (part["y_true"].to_numpy() == pos).astype(int)
        grp = part["group"].to_numpy()
        for label in [*groups, POOLED]:
            mask = np.ones(len(part), dtype=bool) if label == POOLED else grp == label
            if not mask.any() or np.unique(truth[mask]).size < 2:
                continue
            fpr, tpr, thr = roc_curve(truth[mask], score[mask])
            frames.append(pd.DataFrame({"seed": int(seed), "model": model, "group": label,
                                        "fpr": fpr, "tpr": tpr, "threshold": thr,
                                        "auc": float(auc(fpr, tpr))}))
    if not frames:
        return _empty(columns)
    return pd.concat(frames, ignore_index=True)[columns]


def _confusion_table(pred: pd.DataFrame, models: Sequence[str], groups: Sequence[str],
                     classes: np.ndarray) -> pd.DataFrame:
    labels = [*groups, POOLED]
    counts = pred.groupby(["model", "group", "y_true", "y_pred"], sort=False).size()
    total = pred.groupby(["model", "y_true", "y_pred"], sort=False).size()
    full = pd.MultiIndex.from_product([list(models), labels, list(classes), list(classes)],
                                      names=["model", "group", "true", "predicted"])
    both = pd.concat([counts, pd.concat({POOLED: total}, names=["group"]).reorder_levels(
        ["model", "group", "y_true", "y_pred"])])
    both.index = both.index.set_names(["model", "group", "true", "predicted"])
    out = both.reindex(full, fill_value=0).rename("count").reset_index()
    out["count"] = out["count"].astype(np.int64)
    return out


# --- the study protocol --------------------------------------------------------
def _protocol_mixture_size(data: EmbeddingSet, mixtures: Sequence[Mixture], *, target: str, by: str,
                           test_size: float, random_state: Any, n_seeds: int) -> int:
    """The largest training size every mixture can fill for every seed."""
    y = _labels(data, (target,), classes=True)
    g = _labels(data, (by,))
    ids = np.asarray(data.identity).astype(str)
    _, seeds = derive_seeds(random_state, n_seeds)
    best = None
    for seed in seeds:
        test_rng, _, _ = _seed_streams(seed)
        test = choose_test_set(g, y, ids, test_size=test_size, rng=test_rng, by_name=by, target_name=target)
        cells = _cells(np.setdiff1d(np.arange(len(data)), test), g, y)
        for m in mixtures:
            s = m.max_size(cells)
            best = s if best is None else min(best, s)
    return int(best)


def run_study_protocol(
    data: EmbeddingSet,
    *,
    head: Any = "logistic",
    n_seeds: int = 3,
    random_state: int | None = 0,
    mixture_size: int | None = None,
    target: str = "gender",
    by: str = "ethnicity",
    test_size: float = 0.33,
    diagnostics: bool = True,
    diagnostics_per_group: int | None = 350,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Rerun the reference study's classification protocol, without its leakage.

    All audits share ``random_state`` and therefore, seed by seed, the same
    identity-disjoint test set, so their tables can be compared directly.

    Parameters
    ----------
    data : EmbeddingSet
        Needs the attributes ``target`` and ``by``; the mixtures name the
        DiveFace ethnicities ``B``, ``A`` and ``N``.
    head : str or estimator, default "logistic"
    n_seeds : int, default 3
    random_state : int, default 0
    mixture_size : int, optional
        Training rows of each biased model. None: the largest size that both
        mixtures can fill for every seed (the study used 3000, which a
        leakage-free split of 750 identities per group cannot supply).
    target, by : str
        ``"gender"`` and ``"ethnicity"`` in the study.
    test_size : float, default 0.33
    diagnostics : bool, default True
        Also run :func:`fairaudit.diagnostics.embedding_diagnostics` (t-SNE
        and the demographic probe, task 1.3).
    diagnostics_per_group : int or None, default 350
        Diagnose a stratified subsample of this many samples per
        ``target`` x ``by`` group on average (the study mapped 350 per group,
        task 1.2); None: all samples.
    progress : bool or None

    Returns
    -------
    dict
        ``"per_group"`` (tasks 2.1-2.2: a model per ``by`` group, cross
        evaluated), ``"pooled"`` (2.3-2.4: one balanced model on all groups),
        ``"six_class"`` (2.5: ``target & by`` classes, pooled),
        ``"mixtures"`` (2.6: :data:`STUDY_MIXTURES`), each a
        :class:`ClassificationResult`; ``"diagnostics"`` (a
        ``DiagnosticsResult`` or None); ``"mixture_size"`` (int); ``"timings"``
        (seconds per part).
    """
    root = _resolve_seed(random_state)
    common = dict(head=head, n_seeds=n_seeds, test_size=test_size, random_state=root,
                  progress=progress)
    timings: dict[str, float] = {}
    out: dict[str, Any] = {}

    def timed(name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out[name] = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - t0, 3)

    timed("per_group", classification_audit, data, target=target, by=by, split="per-group", **common)
    timed("pooled", classification_audit, data, target=target, by=by, split="pooled", **common)
    timed("six_class", classification_audit, data, target=[target, by], by=by, split="pooled", **common)
    mixtures = [Mixture(p, mixture_size, name=name) for name, p in STUDY_MIXTURES]
    if mixture_size is None:
        size = _protocol_mixture_size(data, mixtures, target=target, by=by, test_size=test_size,
                                      random_state=root, n_seeds=n_seeds)
        mixtures = [m.with_size(size) for m in mixtures]
    else:
        size = int(mixture_size)
    out["mixture_size"] = size
    timed("mixtures", classification_audit, data, target=target, by=by, split=MixtureSweep(mixtures), **common)
    if diagnostics:
        from fairaudit.diagnostics import embedding_diagnostics

        n_groups = len(np.unique(_labels(data, (target, by))))
        n_diag = None if diagnostics_per_group is None else int(diagnostics_per_group) * n_groups
        timed("diagnostics", embedding_diagnostics, data, by=[target, by], n_samples=n_diag,
              random_state=root)
    else:
        out["diagnostics"] = None
    out["timings"] = timings
    return out
