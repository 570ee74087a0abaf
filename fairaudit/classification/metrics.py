"""The figures of a classification audit, computed from its predictions: intervals over seeds
(:func:`seed_interval`), per-group metrics and fairness figures (one fairlearn ``MetricFrame``),
the cross accuracy table, ROC curves and confusion counts, and the columns of these tables."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.data import POOLED

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


def _empty(columns: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=np.float64 if c in _FLOAT_COLUMNS else
                                      np.int64 if c in _INT_COLUMNS else object) for c in columns})


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
