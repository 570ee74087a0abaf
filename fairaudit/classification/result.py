"""The result of a classification audit: :class:`ClassificationResult` (tables, the cross accuracy
matrix, the leakage check, predictions of the kept models for new samples, JSON round trip)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data import EmbeddingSet
from fairaudit.data import POOLED
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.common.results import ResultOutput
from fairaudit.classification.metrics import FAIRNESS_METRICS, _FLOAT_COLUMNS, _INT_COLUMNS

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
