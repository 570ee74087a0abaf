"""The result of a mitigation what-if (:class:`MitigationResult`: before/after tables, JSON round
trip, the leakage check) and its figures (:func:`plot_mitigation_groups`,
:func:`plot_mitigation_disparity`). matplotlib is imported inside the plot functions only."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.common.figures import literal
from fairaudit.common.results import ResultOutput
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.data import POOLED, EmbeddingSet
from fairaudit.classification.metrics import PERCENTILE_MIN_SEEDS, _summarise

if TYPE_CHECKING:  # pragma: no cover - typing only
    from matplotlib.axes import Axes

#: per-group figures of a what-if (fairlearn's ``selection_rate``, ``true_positive_rate``,
#: ``false_positive_rate`` and scikit-learn's ``accuracy_score``)
GROUP_METRICS = ("accuracy", "selection_rate", "tpr", "fpr")
#: disparity figures between the groups (between-groups differences and ratios of the
#: ``MetricFrame``, aggregated as fairlearn's functions of the same names do)
DISPARITY_METRICS = ("demographic_parity_difference", "demographic_parity_ratio",
                     "equalized_odds_difference", "equalized_odds_ratio",
                     "true_positive_rate_difference", "false_positive_rate_difference",
                     "accuracy_difference")
SUMMARY_COLUMNS = ("before_mean", "before_ci_low", "before_ci_high", "after_mean", "after_ci_low",
                   "after_ci_high", "change", "n_seeds")
_LABELS = {"accuracy": "accuracy", "selection_rate": "selection rate", "tpr": "true positive rate",
           "fpr": "false positive rate"}
#: colours of the before and after bars (Okabe-Ito grey-blue and vermillion)
BEFORE_COLOR, AFTER_COLOR = "#999999", "#0072B2"

WRONG_KIND = (
    "data has kind={value!r}, expected {kind!r}. Fix: pass the JSON written by "
    "MitigationResult.to_json()."
)
NO_REPORT = (
    "a mitigation what-if is kept out of the audit's HTML report on purpose (it is not a finding "
    "about the audited model). Fix: use summary(), the comparison and disparity tables, "
    "plot_mitigation_groups / plot_mitigation_disparity, or to_json()."
)
UNKNOWN_METRIC = "{name}={value!r} is not a figure of this result; available: {available}. Fix: pass one of them."


def _pair(before: np.ndarray, after: np.ndarray, ci: float) -> dict[str, float]:
    b, a = _summarise(before, ci), _summarise(after, ci)
    return {"before_mean": b["mean"], "before_ci_low": b["ci_low"], "before_ci_high": b["ci_high"],
            "after_mean": a["mean"], "after_ci_low": a["ci_low"], "after_ci_high": a["ci_high"],
            "change": a["mean"] - b["mean"], "n_seeds": min(b["n_seeds"], a["n_seeds"])}


def _summary_tables(by_group: pd.DataFrame, disparity_seed: pd.DataFrame, groups: Sequence[str],
                    targeted: str, ci: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean and interval over seeds, before and after: per group and metric, and per disparity."""
    rows = []
    for group in [*groups, POOLED]:
        part = by_group[by_group["group"] == group]
        for metric in GROUP_METRICS:
            values = {m: part.loc[part["model"] == m, metric].to_numpy() for m in ("before", "after")}
            rows.append({"group": group, "metric": metric, **_pair(values["before"], values["after"], ci)})
    comparison = pd.DataFrame(rows, columns=["group", "metric", *SUMMARY_COLUMNS])
    held = disparity_seed[disparity_seed["rows"] == "test"]
    rows = []
    for metric in DISPARITY_METRICS:
        part = held[held["metric"] == metric]
        values = {m: part.loc[part["model"] == m, "value"].to_numpy() for m in ("before", "after")}
        rows.append({"metric": metric, **_pair(values["before"], values["after"], ci),
                     "targeted": metric == targeted})
    disparity = pd.DataFrame(rows, columns=["metric", *SUMMARY_COLUMNS, "targeted"])
    for frame in (comparison, disparity):
        frame["n_seeds"] = frame["n_seeds"].astype(np.int64)
    return comparison, disparity


def _count(y_true: Any, y_pred: Any) -> int:
    return int(len(y_true))


def _evaluate(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-group figures and disparities from ONE fairlearn MetricFrame (seed, model and rows
    as control features); the disparities aggregate it as fairlearn's own functions do."""
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate
    from sklearn.metrics import accuracy_score

    metrics = {"n": _count, "accuracy": accuracy_score, "selection_rate": selection_rate,
               "tpr": true_positive_rate, "fpr": false_positive_rate}
    controls = frame[["seed", "model", "rows"]].reset_index(drop=True)
    mf = MetricFrame(metrics=metrics, y_true=frame["y_true"].to_numpy(), y_pred=frame["y_pred"].to_numpy(),
                     sensitive_features=pd.Series(frame["group"].to_numpy(), name="group"),
                     control_features=controls)
    overall = mf.overall.reset_index()
    overall["group"] = POOLED
    by_group = pd.concat([mf.by_group.reset_index(), overall], ignore_index=True)
    by_group = by_group[by_group["rows"] == "test"].drop(columns="rows")
    by_group["n"] = by_group["n"].astype(np.int64)
    for column in GROUP_METRICS:
        by_group[column] = pd.to_numeric(by_group[column], errors="coerce").astype(np.float64)
    by_group = by_group[["seed", "model", "group", "n", *GROUP_METRICS]]

    diff, ratio = mf.difference(method="between_groups"), mf.ratio(method="between_groups")
    fig = pd.DataFrame(index=diff.index)
    fig["demographic_parity_difference"] = diff["selection_rate"]
    fig["demographic_parity_ratio"] = ratio["selection_rate"]
    fig["equalized_odds_difference"] = diff[["tpr", "fpr"]].max(axis=1)
    fig["equalized_odds_ratio"] = ratio[["tpr", "fpr"]].min(axis=1)
    fig["true_positive_rate_difference"] = diff["tpr"]
    fig["false_positive_rate_difference"] = diff["fpr"]
    fig["accuracy_difference"] = diff["accuracy"]
    disparity = fig[list(DISPARITY_METRICS)].reset_index().melt(
        id_vars=["seed", "model", "rows"], var_name="metric", value_name="value")
    disparity["value"] = disparity["value"].astype(np.float64)
    return by_group, disparity


def _order(frame: pd.DataFrame, seeds: Sequence[int], key: str, order: Sequence[str]) -> pd.DataFrame:
    """Rows by seed (in order), held-out before development rows, "before" ahead of "after", then ``key``."""
    ranks = {"seed": {s: i for i, s in enumerate(seeds)}, "rows": {"test": 0, "dev": 1},
             "model": {"before": 0, "after": 1}, key: {v: i for i, v in enumerate(order)}}
    columns = [c for c in ("seed", "rows", "model", key) if c in frame.columns]
    sort = frame.assign(**{f"_{c}": frame[c].map(ranks[c]) for c in columns})
    out = sort.sort_values([f"_{c}" for c in columns], kind="stable").drop(columns=[f"_{c}" for c in columns])
    out = out.reset_index(drop=True)
    out["seed"] = out["seed"].astype(np.int64)
    return out


def _notes(method: str, by: str, target: str, classes: np.ndarray, pos: str, disparity_seed: pd.DataFrame,
           disparity: pd.DataFrame, rules: pd.DataFrame, n_seeds: int, targeted: str) -> list[str]:
    """Plain remarks: what deploying the mitigator implies, and what the figures can and cannot say."""
    if method == "threshold-optimizer":
        notes = [
            f"Deploying ThresholdOptimizer means reading each person's group label ({by}) at "
            "decision time: every group gets its own threshold on the head's score (for some "
            "groups a random choice between two thresholds; see the rules table). Group-specific "
            "thresholds on a protected attribute are disparate treatment in many jurisdictions. A "
            "group not seen in fitting would silently never be selected."]
    else:
        sizes = rules.groupby("seed").size()
        mixture = ("in this run a single head in every seed, so its decisions were not random here"
                   if (sizes == 1).all() else f"{sizes.mean():.3g} heads on average in this run")
        notes = [
            "Deploying ExponentiatedGradient means deploying a randomised classifier, a weighted "
            f"mixture of refitted heads drawn per decision ({mixture}; see the rules table): the "
            "same person can get different answers. It does not read the group label "
            f"({by}) at prediction time, but it was trained with it (the development identities' "
            "labels reweighted the rows), so every retraining needs group labels."]
    notes.append(
        "A what-if never changes the audited model: the head is refitted here on the development "
        "identities, the mitigated model is scored on held-out identities, and nothing is applied "
        "to any audit result.")
    notes.append(
        "The mitigated model's predictions are draws from its selection probabilities, seeded per "
        "seed (fairlearn's predict(..., random_state=...)); the figures are those of one draw.")
    if classes.size > 2:
        notes.append(
            f"target {target!r} has {classes.size} classes; it was binarised one-vs-rest: {pos!r} "
            f"(positive, 'selected') against the other {classes.size - 1}, for both models.")
    held = disparity.set_index("metric")
    before, after = float(held.at[targeted, "before_mean"]), float(held.at[targeted, "after_mean"])
    if math.isfinite(before) and math.isfinite(after) and after >= before:
        notes.append(f"The mitigator did not reduce {targeted} on the held-out identities (before "
                     f"{before:.3f}, after {after:.3f}, means over seeds).")
    dev = disparity_seed[(disparity_seed["rows"] == "dev") & (disparity_seed["model"] == "before")
                         & (disparity_seed["metric"] == targeted)]["value"].mean()
    if math.isfinite(before) and before > 0.05 and math.isfinite(dev) and dev < 0.5 * before:
        notes.append(
            f"The before model's {targeted} is {dev:.3f} on its own training rows and {before:.3f} "
            "on held-out identities. The mitigator is fitted on the training rows, so it can only "
            "correct what it sees there; a more regularised head shows it more of the disparity.")
    if n_seeds == 1:
        notes.append("one seed: confidence intervals are NaN.")
    notes.append(
        f"intervals are {'percentile' if n_seeds >= PERCENTILE_MIN_SEEDS else 'Student-t'} "
        f"intervals over the {n_seeds} seed(s), clipped to [0, 1]: they reflect the held-out "
        "split, the head's seed and the random draws, not sampling of the population.")
    return notes


@dataclass(frozen=True, eq=False)
class MitigationResult(ResultOutput):
    """What :func:`~fairaudit.classification.mitigation.mitigate_classifier` found.

    "before" is the head fitted on the development identities, "after" the fairlearn
    mitigator fitted around a clone of it on the same rows; both are scored on held-out
    identities. Groups are labelled as in a classification audit; ``"all"`` is the whole
    held-out set. Rates treat ``pos_label`` as the positive, "selected" class.

    Attributes
    ----------
    target, by : tuple of str
        The predicted attribute(s) and the sensitive feature(s).
    classes : tuple of str
        The target's classes in the data (a multi-class target is binarised one-vs-rest).
    pos_label : str
        The positive class.
    groups : tuple of str
        The group labels of ``by``.
    method, constraint : str
        The mitigator (``"threshold-optimizer"`` or ``"exponentiated-gradient"``) and its
        fairlearn constraint.
    seeds : tuple of int
        The per-seed seeds (those of a classification audit with the same ``random_state``).
    comparison : DataFrame
        Before/after per group: ``group``, ``metric`` (``accuracy``, ``selection_rate``,
        ``tpr``, ``fpr``), ``before_mean``, ``before_ci_low``, ``before_ci_high``,
        ``after_mean``, ``after_ci_low``, ``after_ci_high``, ``change`` (after minus before,
        means), ``n_seeds``.
    disparity : DataFrame
        Before/after of the disparity figures on the held-out identities: ``metric``
        (:data:`DISPARITY_METRICS`), the same columns, and ``targeted`` (the figure the
        constraint equalises).
    by_group : DataFrame
        Per seed: ``seed``, ``model`` (``before``/``after``), ``group``, ``n``, ``accuracy``,
        ``selection_rate``, ``tpr``, ``fpr`` (one fairlearn ``MetricFrame``).
    disparity_by_seed : DataFrame
        ``seed``, ``rows`` (``test``: held-out identities; ``dev``: the development rows both
        models were fitted on, a diagnostic), ``model``, ``metric``, ``value``.
    rules : DataFrame
        What the fitted mitigator decides with. ThresholdOptimizer: ``seed``, ``group``,
        ``p0``, ``operator0``, ``threshold0``, ``p1``, ``operator1``, ``threshold1``,
        ``p_ignore``, ``prediction_constant`` (a sample of the group is selected with
        probability ``p0 * [score op0 threshold0] + p1 * [score op1 threshold1]``, mixed with
        ``prediction_constant`` at rate ``p_ignore``). ExponentiatedGradient: ``seed``,
        ``predictor``, ``weight`` (the mixture's heads with non-zero weight).
    splits : DataFrame
        ``seed``, ``role`` (``dev`` or ``test``), ``index`` (row of the data).
    predictions : DataFrame
        Held-out predictions: ``seed``, ``model``, ``index``, ``identity``, ``group``,
        ``target`` (class), ``y_true`` and ``y_pred`` (1 = ``pos_label``).
    params, provenance : dict
        The arguments (``random_state`` resolved) and the environment.
    notes : list of str
        The deployment note for the method and other plain remarks.
    """

    target: tuple
    by: tuple
    classes: tuple
    pos_label: str
    groups: tuple
    method: str
    constraint: str
    seeds: tuple
    comparison: pd.DataFrame
    disparity: pd.DataFrame
    by_group: pd.DataFrame
    disparity_by_seed: pd.DataFrame
    rules: pd.DataFrame
    splits: pd.DataFrame
    predictions: pd.DataFrame
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)

    kind = "classification-mitigation"
    _TABLES = ("comparison", "disparity", "by_group", "disparity_by_seed", "rules", "splits", "predictions")

    def before_after(self, metric: str = "selection_rate") -> pd.DataFrame:
        """Group x (before, after, change) of one per-group figure, means over seeds."""
        if metric not in GROUP_METRICS:
            raise errors.FairauditInputError(UNKNOWN_METRIC.format(
                name="metric", value=metric, available=list(GROUP_METRICS)))
        part = self.comparison[self.comparison["metric"] == metric].set_index("group")
        table = part[["before_mean", "after_mean", "change"]].rename(
            columns={"before_mean": "before", "after_mean": "after"})
        table.index.name = "group"
        return table

    def check_no_leakage(self, identity: Any) -> None:
        """Assert that no identity is both a development and a held-out identity of a seed.

        Parameters
        ----------
        identity : array-like or EmbeddingSet
            Identity of every row of the data (``data.identity``).
        """
        ids = np.asarray(identity.identity if isinstance(identity, EmbeddingSet) else identity)
        for seed, part in self.splits.groupby("seed", sort=False):
            shared = np.intersect1d(ids[part.loc[part["role"] == "dev", "index"].to_numpy()],
                                    ids[part.loc[part["role"] == "test", "index"].to_numpy()])
            if shared.size:
                raise AssertionError(f"seed {seed}: {shared.size} identities are development and held-out "
                                     f"identities, e.g. {[str(x) for x in shared[:10]]}")

    def summary(self) -> str:
        """Plain text: the before/after tables and the notes."""
        fmt = lambda v: f"{v:.4f}"  # noqa: E731
        disp = self.disparity.set_index("metric")[["before_mean", "before_ci_low", "before_ci_high",
                                                   "after_mean", "after_ci_low", "after_ci_high"]]
        disp.index = [f"{m} *" if t else m for m, t in zip(disp.index, self.disparity["targeted"])]
        lines = [
            f"Mitigation what-if: {self.params.get('mitigator')} ({self.constraint}) for target "
            f"{' x '.join(self.target)} (positive class {self.pos_label!r}) by {' x '.join(self.by)}, "
            f"head {self.params.get('head')}, {len(self.seeds)} seed(s); fitted on development "
            "identities, scored on held-out identities",
            "",
            "Disparity between groups, mean and interval over seeds (* = what the constraint targets):",
            disp.to_string(float_format=fmt),
        ]
        for metric in GROUP_METRICS:
            lines += ["", f"{_LABELS[metric]} per group, mean over seeds:",
                      self.before_after(metric).to_string(float_format=fmt)]
        lines += ["", *(f"note: {n}" for n in self.notes)]
        return "\n".join(lines)

    def to_html(self, path: Any, **kwargs: Any) -> Any:
        """Not available: what-ifs stay out of the audit report (raises FairauditInputError)."""
        raise errors.FairauditInputError(NO_REPORT)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of the result (NaN becomes null)."""
        out: dict[str, Any] = {
            "kind": self.kind, "target": list(self.target), "by": list(self.by),
            "classes": list(self.classes), "pos_label": self.pos_label, "groups": list(self.groups),
            "method": self.method, "constraint": self.constraint, "seeds": list(self.seeds),
            "params": self.params, "provenance": self.provenance, "notes": list(self.notes),
        }
        for name in self._TABLES:
            out[name] = frame_to_dict(getattr(self, name))
        return to_jsonable(out)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MitigationResult":
        """Rebuild a result from :meth:`to_dict` output."""
        if not isinstance(data, dict) or data.get("kind") != cls.kind:
            raise errors.FairauditInputError(WRONG_KIND.format(
                value=data.get("kind") if isinstance(data, dict) else type(data).__name__, kind=cls.kind))
        return cls(
            target=tuple(data["target"]), by=tuple(data["by"]), classes=tuple(data["classes"]),
            pos_label=data["pos_label"], groups=tuple(data["groups"]), method=data["method"],
            constraint=data["constraint"], seeds=tuple(int(s) for s in data["seeds"]),
            params=data["params"], provenance=data["provenance"], notes=list(data.get("notes", [])),
            **{name: frame_from_dict(data[name]).reset_index(drop=True) for name in cls._TABLES},
        )

    def __repr__(self) -> str:
        return (f"MitigationResult(method={self.method!r}, constraint={self.constraint!r}, "
                f"target={list(self.target)}, by={list(self.by)}, seeds={len(self.seeds)})")


# --- figures ------------------------------------------------------------------
def _axes(ax: Any, figsize: tuple[float, float]) -> "Axes":
    from fairaudit.verification.plot_style import _axes as verification_axes

    return verification_axes(ax, figsize)


def _yerr(row: pd.Series, model: str) -> Any:
    v, lo, hi = (float(row[f"{model}_{k}"]) for k in ("mean", "ci_low", "ci_high"))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    return [[max(v - lo, 0.0)], [max(hi - v, 0.0)]]


def _bars(ax: "Axes", table: pd.DataFrame, *, horizontal: bool) -> None:
    """Before and after bars side by side for every row of ``table``, intervals as error bars."""
    bar = ax.barh if horizontal else ax.bar
    for i, (_, row) in enumerate(table.iterrows()):
        for model, shift, color in (("before", -0.2, BEFORE_COLOR), ("after", 0.2, AFTER_COLOR)):
            value = float(row[f"{model}_mean"])
            if not math.isfinite(value):
                continue
            err = _yerr(row, model)
            kw = {"xerr": err} if horizontal else {"yerr": err}
            bar([i + shift], [value], 0.38, color=color, label=model if i == 0 else None, gid=model,
                capsize=4, error_kw=dict(ecolor="0.15", elinewidth=1.1), **kw)


def _legend(ax: "Axes", result: MitigationResult) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ci = result.params.get("ci", 0.95)
    handles = [Patch(color=BEFORE_COLOR, label="before"),
               Patch(color=AFTER_COLOR, label=literal(f"after ({result.params.get('mitigator')})")),
               Line2D([], [], color="0.15", lw=1.1, marker="_", ms=9,
                      label=f"{ci:.0%} interval over {len(result.seeds)} seeds")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0.0,
              fontsize="small")


def plot_mitigation_groups(result: MitigationResult, metric: str = "selection_rate", *,
                           ax: "Axes | None" = None, pooled: bool = True) -> "Axes":
    """Before/after bars of one per-group figure on the held-out identities, with intervals.

    Parameters
    ----------
    result : MitigationResult
    metric : {"selection_rate", "accuracy", "tpr", "fpr"}
    ax : matplotlib Axes, optional
    pooled : bool, default True
        Also show ``"all"`` (the whole held-out set).

    Returns
    -------
    matplotlib Axes
    """
    if metric not in GROUP_METRICS:
        raise errors.FairauditInputError(UNKNOWN_METRIC.format(
            name="metric", value=metric, available=list(GROUP_METRICS)))
    labels = [*result.groups, *([POOLED] if pooled else [])]
    table = result.comparison[result.comparison["metric"] == metric].set_index("group").reindex(labels)
    ax = _axes(ax, (max(7.0, 4.0 + 0.9 * len(labels)), 4.5))
    _bars(ax, table, horizontal=False)
    ax.set_xticks(np.arange(len(labels)), labels=[literal(x) for x in labels])
    if max(len(x) for x in labels) > 6:
        for tick in ax.get_xticklabels():
            tick.set_rotation(35)
            tick.set_ha("right")
    ax.set_xlim(-0.6, len(labels) - 0.4)
    ax.set_ylim(0, 1.05)
    what = f" (share predicted {result.pos_label})" if metric == "selection_rate" else ""
    ax.set_ylabel(literal(f"{_LABELS[metric]}{what}"))
    ax.set_xlabel(literal(" x ".join(result.by)))
    ax.set_title(literal(f"{_LABELS[metric]} per group\nbefore and after {result.params.get('mitigator')} "
                         f"({result.constraint})"))
    ax.grid(True, axis="y", alpha=0.3)
    ax.set_axisbelow(True)
    _legend(ax, result)
    return ax


def plot_mitigation_disparity(result: MitigationResult, metrics: Sequence[str] | None = None, *,
                              ax: "Axes | None" = None) -> "Axes":
    """Before/after horizontal bars of disparity figures on the held-out identities, with intervals.

    Parameters
    ----------
    result : MitigationResult
    metrics : list of str, optional
        Figures of :data:`DISPARITY_METRICS`; default the demographic parity and equalized
        odds differences, and the targeted figure if it is another one. The targeted figure
        is marked with ``*``.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib Axes
    """
    targeted = result.params.get("targeted")
    if metrics is None:
        metrics = ["demographic_parity_difference", "equalized_odds_difference"]
        if targeted not in metrics:
            metrics.append(targeted)
    metrics = list(metrics)
    for m in metrics:
        if m not in DISPARITY_METRICS:
            raise errors.FairauditInputError(UNKNOWN_METRIC.format(
                name="metrics", value=m, available=list(DISPARITY_METRICS)))
    table = result.disparity.set_index("metric").reindex(metrics)
    ax = _axes(ax, (8.0, 1.6 + 0.7 * len(metrics)))
    _bars(ax, table, horizontal=True)
    names = [m.replace("_", " ") + (" *" if m == targeted else "") for m in metrics]
    ax.set_yticks(np.arange(len(metrics)), labels=names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.05)
    ax.set_xlabel("between-group value (0 = no disparity for differences, 1 for ratios)")
    ax.set_title(literal(f"Disparity before and after {result.params.get('mitigator')} "
                         f"({result.constraint}; * targeted)"))
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    _legend(ax, result)
    return ax
