"""Mitigation what-ifs for attribute classifiers: what would fairlearn's mitigators change?

:func:`mitigate_classifier` fits a classifier head on *development* identities (the "before"
model), fits a fairlearn mitigator around a clone of the head on the same rows with the groups of
``by`` as ``sensitive_features`` (the "after" model), and scores both on *held-out* identities, the
test set of :func:`~fairaudit.classification.splits.choose_test_set` drawn from the seeds of
:func:`~fairaudit.classification.audit.classification_audit` (same ``random_state``, target and
``by``: the same people). ``"threshold-optimizer"`` is :class:`fairlearn.postprocessing.ThresholdOptimizer`
(per-group thresholds on the head's score), ``"exponentiated-gradient"``
:class:`fairlearn.reductions.ExponentiatedGradient` (a randomised mixture of heads refitted on
reweighted rows). Both need a binary target: a multi-class target is refused unless ``pos_label``
names the class to mitigate against all the others (one-vs-rest). Nothing here touches an audit or
its models; the result is in :mod:`~fairaudit.classification.mitigation_result`.
"""

from __future__ import annotations

import math
import numbers
import time
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common.progress import progress_bar
from fairaudit.common import errors
from fairaudit.common.provenance import provenance
from fairaudit.common.threads import limited_threads
from fairaudit.data import LABEL_SEP, POOLED, EmbeddingSet, normalize_by
from fairaudit.classification.audit import BAD_DATA, BAD_N_SEEDS, SINGLE_CLASS
from fairaudit.classification.heads import KerasMLPClassifier, head_name, resolve_head, seed_estimator
from fairaudit.classification.labels import _labels, _normalize_target
from fairaudit.classification.mitigation_result import (DISPARITY_METRICS, MitigationResult, _evaluate,
                                                       _notes, _order, _summary_tables)
from fairaudit.classification.seeds import _seed_streams, derive_seeds
from fairaudit.classification.test_sets import check_identity_disjoint, check_test_size, choose_test_set

#: the mitigators, by the name ``method=`` takes
METHODS = ("threshold-optimizer", "exponentiated-gradient")
#: the constraints fairlearn supports for each method (ThresholdOptimizer's ``constraints``
#: strings; the reductions' Moment classes under the same names)
CONSTRAINTS = {
    "threshold-optimizer": ("demographic_parity", "selection_rate_parity", "equalized_odds",
                            "true_positive_rate_parity", "false_positive_rate_parity",
                            "true_negative_rate_parity", "false_negative_rate_parity"),
    "exponentiated-gradient": ("demographic_parity", "equalized_odds", "true_positive_rate_parity",
                               "false_positive_rate_parity", "error_rate_parity"),
}
#: the disparity figure each constraint equalises (FNR = 1 - TPR and TNR = 1 - FPR have the
#: same between-group differences as TPR and FPR)
TARGETED = {
    "demographic_parity": "demographic_parity_difference",
    "selection_rate_parity": "demographic_parity_difference",
    "equalized_odds": "equalized_odds_difference",
    "true_positive_rate_parity": "true_positive_rate_difference",
    "false_negative_rate_parity": "true_positive_rate_difference",
    "false_positive_rate_parity": "false_positive_rate_difference",
    "true_negative_rate_parity": "false_positive_rate_difference",
    "error_rate_parity": "accuracy_difference",
}
_MOMENTS = {"demographic_parity": "DemographicParity", "equalized_odds": "EqualizedOdds",
            "true_positive_rate_parity": "TruePositiveRateParity",
            "false_positive_rate_parity": "FalsePositiveRateParity",
            "error_rate_parity": "ErrorRateParity"}
_TO_OBJECTIVES = ("accuracy_score", "balanced_accuracy_score", "selection_rate",
                  "true_positive_rate", "true_negative_rate")
#: mitigator parameters ``mitigator_params`` may set: name -> (rule, test)
_PARAMS = {
    "threshold-optimizer": {
        "objective": ("one of " + ", ".join(_TO_OBJECTIVES), lambda v: v in _TO_OBJECTIVES),
        "grid_size": ("an integer >= 2", lambda v: _is_int(v) and v >= 2),
        "flip": ("True or False", lambda v: isinstance(v, bool)),
        "tol": ("None or a number in [0, 1]", lambda v: v is None or (_is_real(v) and 0 <= v <= 1)),
    },
    "exponentiated-gradient": {
        "eps": ("a number > 0", lambda v: _is_real(v) and 0 < v < math.inf),
        "max_iter": ("an integer >= 1", lambda v: _is_int(v) and v >= 1),
        "nu": ("None or a number > 0", lambda v: v is None or (_is_real(v) and 0 < v < math.inf)),
        "eta0": ("a number > 0", lambda v: _is_real(v) and 0 < v < math.inf),
        "run_linprog_step": ("True or False", lambda v: isinstance(v, bool)),
    },
}

# --- error messages ---------------------------------------------------------
UNKNOWN_METHOD = (
    "method={value!r} is not a mitigation method; available: {available}. Fix: pass one of them."
)
BAD_CONSTRAINT = (
    "constraint={value!r} is not a constraint fairlearn supports for method={method!r}; "
    "supported: {available}. Fix: pass one of them."
)
BAD_PARAMS = (
    "mitigator_params={value!r} must be a dict of parameter name to value. Fix: pass e.g. "
    "{example}, or None."
)
UNKNOWN_PARAM = (
    "mitigator_params: {name!r} is not a parameter of {cls} that a what-if may set; allowed: "
    "{available}. Fix: drop it or use one of these."
)
BAD_PARAM = "mitigator_params: {name}={value!r} for {cls} must be {rule}. Fix: pass a value that is."
TOL_WITH_EO = (
    "mitigator_params: tol={value!r} relaxes a constraint, which fairlearn's ThresholdOptimizer "
    "does not support for constraint='equalized_odds'. Fix: drop tol, or choose another constraint."
)
OBJECTIVE_WITH_EO = (
    "mitigator_params: objective={value!r} cannot be used with constraint='equalized_odds'; "
    "fairlearn allows 'accuracy_score' and 'balanced_accuracy_score' there. Fix: pass one of them."
)
BAD_POS_LABEL = (
    "pos_label={value!r} is not a class of target {target!r}; classes: {classes}. Fix: pass one "
    "of them{default}."
)
MULTICLASS = (
    "target {target!r} has {n} classes {classes}; fairlearn's ThresholdOptimizer and "
    "ExponentiatedGradient work on binary targets only. Fix: pass pos_label=<one class> to "
    "mitigate that class against all the others (one-vs-rest), or choose a binary target."
)
ONE_GROUP = (
    "by={by!r} has a single group {group!r} in the data; a mitigation what-if equalises figures "
    "between groups. Fix: choose an attribute with at least two values."
)
GROUP_ONE_CLASS = (
    "group {group!r} of by={by!r} has only samples of class {value!r} of the (binarised) target "
    "{target!r}; its true and false positive rates are undefined and the mitigator cannot "
    "equalise them. Fix: drop that group, or group by another attribute (by must not determine "
    "the target)."
)
NO_SAMPLE_WEIGHT = (
    "head={head!r} cannot be used with method='exponentiated-gradient': its fit takes no "
    "sample_weight, which the reduction needs to reweight the training rows. Fix: use a head "
    "whose fit accepts sample_weight (e.g. head='logistic', or a Pipeline whose last step does), "
    "or method='threshold-optimizer'."
)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


def _class_name(method: str) -> str:
    return "ThresholdOptimizer" if method == "threshold-optimizer" else "ExponentiatedGradient"


def _check_options(method: Any, constraint: Any, params: Any) -> dict[str, Any]:
    if not isinstance(method, str) or method not in METHODS:
        raise errors.FairauditInputError(UNKNOWN_METHOD.format(value=method, available=list(METHODS)))
    if not isinstance(constraint, str) or constraint not in CONSTRAINTS[method]:
        raise errors.FairauditInputError(BAD_CONSTRAINT.format(
            value=constraint, method=method, available=list(CONSTRAINTS[method])))
    allowed = _PARAMS[method]
    example = "{'objective': 'balanced_accuracy_score'}" if method == "threshold-optimizer" else "{'eps': 0.05}"
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise errors.FairauditInputError(BAD_PARAMS.format(value=params, example=example))
    cls = _class_name(method)
    for name, value in params.items():
        if name not in allowed:
            raise errors.FairauditInputError(UNKNOWN_PARAM.format(name=name, cls=cls, available=sorted(allowed)))
        rule, test = allowed[name]
        if not test(value):
            raise errors.FairauditInputError(BAD_PARAM.format(name=name, value=value, cls=cls, rule=rule))
    if constraint == "equalized_odds" and method == "threshold-optimizer":
        if params.get("tol") is not None:
            raise errors.FairauditInputError(TOL_WITH_EO.format(value=params["tol"]))
        if params.get("objective", "accuracy_score") not in ("accuracy_score", "balanced_accuracy_score"):
            raise errors.FairauditInputError(OBJECTIVE_WITH_EO.format(value=params["objective"]))
    return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in params.items()}


def _sample_weight_name(head: Any, label: str) -> str:
    """The keyword through which ExponentiatedGradient passes row weights to ``head.fit``."""
    from sklearn.utils.validation import has_fit_parameter

    steps = getattr(head, "steps", None)
    if steps:  # a Pipeline routes fit parameters to a step by "<step>__<parameter>"
        name, last = steps[-1]
        if last is not None and last != "passthrough" and has_fit_parameter(last, "sample_weight"):
            return f"{name}__sample_weight"
    elif has_fit_parameter(head, "sample_weight"):
        return "sample_weight"
    raise errors.FairauditInputError(NO_SAMPLE_WEIGHT.format(head=label))


def _mitigator(method: str, constraint: str, estimator: Any, params: dict[str, Any], weight_name: str) -> Any:
    if method == "threshold-optimizer":
        from fairlearn.postprocessing import ThresholdOptimizer

        return ThresholdOptimizer(estimator=estimator, constraints=constraint, prefit=False,
                                  predict_method="predict_proba", **params)
    import fairlearn.reductions as reductions

    moment = getattr(reductions, _MOMENTS[constraint])()
    return reductions.ExponentiatedGradient(estimator, moment, sample_weight_name=weight_name, **params)


def _fit_seed(method: str, constraint: str, head: Any, params: dict[str, Any], weight_name: str,
              X: np.ndarray, y: np.ndarray, g: np.ndarray, dev: np.ndarray, test: np.ndarray, *,
              head_seed: int, draw_seed: int) -> tuple[Any, dict[tuple[str, str], np.ndarray]]:
    """Fit the before model and the mitigator on ``dev``; 0/1 predictions of both on test and dev."""
    import warnings

    from sklearn.base import clone

    out = {}
    with limited_threads(), warnings.catch_warnings():
        # fairlearn 0.15's own use of pandas warns (e.g. Pandas4Warning); nothing a user can change
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"fairlearn(\.|$)")
        warnings.filterwarnings("ignore", category=FutureWarning, module=r"fairlearn(\.|$)")
        before = seed_estimator(clone(head, safe=False), head_seed).fit(X[dev], y[dev])
        after = _mitigator(method, constraint, seed_estimator(clone(head, safe=False), head_seed),
                           params, weight_name)
        after.fit(X[dev], y[dev], sensitive_features=g[dev])
        for name, rows in (("test", test), ("dev", dev)):
            if method == "threshold-optimizer":
                mitigated = after.predict(X[rows], sensitive_features=g[rows], random_state=draw_seed)
            else:  # the reduction's mixture does not read the group at prediction time
                mitigated = after.predict(X[rows], random_state=draw_seed)
            out[(name, "before")] = np.asarray(before.predict(X[rows])).astype(np.int64)
            out[(name, "after")] = np.asarray(mitigated).astype(np.int64)
    return after, out


def _rules(method: str, mitigator: Any, seed: int) -> list[dict[str, Any]]:
    """What the fitted mitigator decides with: per-group thresholds, or the mixture's weights."""
    if method == "threshold-optimizer":
        rows = []
        for group, rule in mitigator.interpolated_thresholder_.interpolation_dict.items():
            rows.append({
                "seed": seed, "group": str(group),
                "p0": float(rule["p0"]), "operator0": str(rule["operation0"].operator),
                "threshold0": float(rule["operation0"].threshold),
                "p1": float(rule["p1"]), "operator1": str(rule["operation1"].operator),
                "threshold1": float(rule["operation1"].threshold),
                "p_ignore": float(rule["p_ignore"]) if "p_ignore" in rule else 0.0,
                "prediction_constant": float(rule["prediction_constant"]) if "prediction_constant" in rule
                else math.nan,
            })
        return rows
    weights = mitigator.weights_
    return [{"seed": seed, "predictor": int(k), "weight": float(w)} for k, w in weights.items() if w > 0]


def _progress(total: int, enabled: bool | None):
    return progress_bar(total, enabled, "mitigation what-if", unit="seed")


# --- the what-if ----------------------------------------------------------------
def mitigate_classifier(
    data: EmbeddingSet,
    *,
    target: str | Sequence[str],
    by: str | Sequence[str],
    head: Any = "logistic",
    method: str = "threshold-optimizer",
    constraint: str = "demographic_parity",
    mitigator_params: dict[str, Any] | None = None,
    n_seeds: int = 3,
    test_size: float = 0.33,
    ci: float = 0.95,
    pos_label: str | None = None,
    random_state: int | np.random.Generator | None = 0,
    progress: bool | None = None,
) -> MitigationResult:
    """What would a fairlearn mitigator change? Before/after on held-out identities.

    For every seed: hold out whole identities (the classification audit's test set), fit
    ``head`` on the others (the development identities: the *before* model), fit the
    mitigator around a clone of ``head`` on the same rows with ``sensitive_features`` = the
    groups of ``by`` (the *after* model), and score both on the held-out identities with one
    ``fairlearn.metrics.MetricFrame``. Nothing is applied to any audited model.

    Parameters
    ----------
    data : EmbeddingSet
        Embeddings with identity and attributes; the features are the L2-normalised embeddings.
    target : str or sequence of str
        Attribute to predict (several are combined into one label, as in
        :func:`~fairaudit.classification.audit.classification_audit`).
    by : str or sequence of str
        The sensitive features: attribute(s) whose groups the constraint equalises.
    head : str or estimator, default "logistic"
        A registered head name or an unfitted classifier with ``fit``/``predict_proba``
        (cloned before every fit, its ``random_state`` parameters set from the seed).
        ``"exponentiated-gradient"`` also needs ``fit(..., sample_weight=...)`` (for a
        Pipeline: on its last step); the Keras ``"mlp"`` head has none.
    method : {"threshold-optimizer", "exponentiated-gradient"}
        fairlearn's ``ThresholdOptimizer`` (post-processing, per-group thresholds) or
        ``ExponentiatedGradient`` (reduction, a randomised mixture of refitted heads).
    constraint : str, default "demographic_parity"
        ThresholdOptimizer: ``demographic_parity`` (= ``selection_rate_parity``),
        ``equalized_odds``, ``{true,false}_{positive,negative}_rate_parity``.
        ExponentiatedGradient: ``demographic_parity``, ``equalized_odds``,
        ``true_positive_rate_parity``, ``false_positive_rate_parity``, ``error_rate_parity``.
    mitigator_params : dict, optional
        Extra constructor arguments of the mitigator. ThresholdOptimizer: ``objective``,
        ``grid_size``, ``flip``, ``tol``; ExponentiatedGradient: ``eps``, ``max_iter``,
        ``nu``, ``eta0``, ``run_linprog_step`` (fairlearn's defaults otherwise).
    n_seeds : int, default 3
        Repetitions, each with a new held-out set, head seed and prediction draws.
    test_size : float, default 0.33
        Fraction of the identities of every group x target stratum held out.
    ci : float, default 0.95
        Confidence level of the intervals over seeds.
    pos_label : str, optional
        The positive ("selected") class. Binary target: default the last of the sorted
        classes. Multi-class target: required; that class is mitigated against all the others.
    random_state : int, Generator or None, default 0
        Root of all randomness (resolved to an int recorded in ``params``); the seeds, and so
        the held-out identities, are those of ``classification_audit`` with the same value.
    progress : bool or None
        Progress bar over the seeds (None: only on a terminal).

    Returns
    -------
    MitigationResult

    Raises
    ------
    FairauditInputError
        On an unknown method, a constraint the method does not support, bad
        ``mitigator_params``, a multi-class target without ``pos_label``, a single group, a
        group with one class only, a stratum too small to split (which would leave a group out
        of the development identities), or a head unfit for the method.
    """
    start = time.perf_counter()
    if not isinstance(data, EmbeddingSet):
        raise errors.FairauditInputError(BAD_DATA.format(type=type(data).__name__))
    params = _check_options(method, constraint, mitigator_params)
    target_t = _normalize_target(target, data.attribute_names)
    by_t = normalize_by(by, data.attribute_names)
    test_size = check_test_size(test_size)
    if not _is_int(n_seeds) or n_seeds < 1:
        raise errors.FairauditInputError(BAD_N_SEEDS.format(value=n_seeds))
    if not _is_real(ci) or not 0.0 < float(ci) < 1.0:
        raise errors.FairauditInputError(errors.BAD_CI.format(value=ci))
    target_label, by_label = LABEL_SEP.join(target_t), LABEL_SEP.join(by_t)

    y = _labels(data, target_t, classes=True)
    g = _labels(data, by_t)
    ids = np.asarray(data.identity).astype(str)
    classes = np.unique(y)
    if classes.size < 2:
        raise errors.FairauditInputError(SINGLE_CLASS.format(target=target_label, value=str(classes[0])))
    if pos_label is not None and str(pos_label) not in classes:
        raise errors.FairauditInputError(BAD_POS_LABEL.format(
            value=pos_label, target=target_label, classes=classes.tolist(),
            default=", or None for the last of the sorted classes" if classes.size == 2 else ""))
    if classes.size > 2 and pos_label is None:
        raise errors.FairauditInputError(MULTICLASS.format(
            target=target_label, n=classes.size, classes=classes.tolist()))
    pos = str(classes[-1]) if pos_label is None else str(pos_label)
    negative = str(classes[0]) if classes.size == 2 else f"not {pos}"
    yb = (y == pos).astype(np.int64)
    groups = tuple(str(x) for x in np.unique(g))
    if len(groups) < 2:
        raise errors.FairauditInputError(ONE_GROUP.format(by=by_label, group=groups[0]))
    for group in groups:
        present = np.unique(yb[g == group])
        if present.size < 2:
            raise errors.FairauditInputError(GROUP_ONE_CLASS.format(
                group=group, by=by_label, target=target_label, value=pos if present[0] else negative))

    head_est = resolve_head(head)
    head_label = head_name(head)
    weight_name = _sample_weight_name(head_est, head_label) if method == "exponentiated-gradient" else ""
    root, seeds = derive_seeds(random_state, n_seeds)
    # float64: fairlearn 0.15 writes float64 into a Series of the scores' dtype, which pandas 3
    # refuses for the float32 scores a float32 input gives
    X = data.normalized().astype(np.float64)
    n = len(data)

    frames, split_frames, rule_rows, eval_frames = [], [], [], []
    bar = _progress(len(seeds), progress)
    try:
        for seed in seeds:
            test_rng, train_rng, head_rng = _seed_streams(seed)
            test = choose_test_set(g, y, ids, test_size=test_size, rng=test_rng,
                                   by_name=by_label, target_name=target_label)
            dev = np.setdiff1d(np.arange(n), test)
            check_identity_disjoint(dev, test, ids, model="before/after", split="development/held-out")
            mitigator, predictions = _fit_seed(
                method, constraint, head_est, params, weight_name, X, yb, g, dev, test,
                head_seed=int(head_rng.integers(0, 2**31 - 1)), draw_seed=int(train_rng.integers(0, 2**31 - 1)))
            for (rows_name, model), pred in predictions.items():
                rows = test if rows_name == "test" else dev
                part = pd.DataFrame({"seed": seed, "model": model, "rows": rows_name, "index": rows,
                                     "identity": ids[rows], "group": g[rows], "target": y[rows],
                                     "y_true": yb[rows], "y_pred": pred})
                eval_frames.append(part)
                if rows_name == "test":
                    frames.append(part.drop(columns="rows"))
            rule_rows += _rules(method, mitigator, seed)
            split_frames += [pd.DataFrame({"seed": seed, "role": "dev", "index": dev}),
                             pd.DataFrame({"seed": seed, "role": "test", "index": test})]
            if bar is not None:
                bar.update(1)
    finally:
        if bar is not None:
            bar.close()

    by_group, disparity_seed = _evaluate(pd.concat(eval_frames, ignore_index=True))
    by_group = _order(by_group, seeds, "group", [*groups, POOLED])
    disparity_seed = _order(disparity_seed, seeds, "metric", DISPARITY_METRICS)
    targeted = TARGETED[constraint]
    comparison, disparity = _summary_tables(by_group, disparity_seed, groups, targeted, float(ci))
    rules = pd.DataFrame(rule_rows)
    result_params = {
        "target": list(target_t), "by": list(by_t), "head": head_label, "method": method,
        "mitigator": _class_name(method), "constraint": constraint, "targeted": targeted,
        "mitigator_params": params, "n_seeds": int(n_seeds), "test_size": test_size, "ci": float(ci),
        "pos_label": pos, "negative_label": negative, "random_state": root, "n_samples": n,
        "n_features": int(data.n_features),
    }
    notes = _notes(method, by_label, target_label, classes, pos, disparity_seed, disparity, rules,
                   len(seeds), targeted)
    return MitigationResult(
        target=target_t, by=by_t, classes=tuple(str(c) for c in classes), pos_label=pos, groups=groups,
        method=method, constraint=constraint, seeds=tuple(seeds), comparison=comparison,
        disparity=disparity, by_group=by_group, disparity_by_seed=disparity_seed, rules=rules,
        splits=pd.concat(split_frames, ignore_index=True), predictions=pd.concat(frames, ignore_index=True),
        params=result_params,
        provenance=provenance(elapsed_s=time.perf_counter() - start,
                              extra_packages=("tensorflow", "tf-keras")
                              if isinstance(head_est, KerasMLPClassifier) else ()),
        notes=notes,
    )

