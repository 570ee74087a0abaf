"""Embedding diagnostics: how much demographic information the embeddings carry.

Two views, as in task 1.3 of the reference study:

* a 2-D map of the embeddings (scikit-learn t-SNE, or PCA) with every
  attribute attached, to colour by gender, by ethnicity or by both
  (:func:`plot_embedding`);
* a *probe*: the cross-validated accuracy of a logistic regression that
  predicts each attribute (and their intersection) from the embedding, next
  to the chance level. Folds are grouped by identity, so no person is on both
  sides of a fold. A probe far above chance means the embedding encodes the
  attribute, which a downstream classifier (or a bias) can exploit.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data import EmbeddingSet
from fairaudit.data import LABEL_SEP, make_groups, normalize_by
from fairaudit.common.provenance import provenance
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.common.threads import limited_threads
from fairaudit.common.results import ResultOutput

# --- error messages ---------------------------------------------------------
BAD_DATA = (
    "data must be a fairaudit.EmbeddingSet; got {type}. Fix: build one with "
    "fairaudit.EmbeddingSet(embeddings, identity=..., attributes=...)."
)
BAD_METHOD = "method={value!r} must be 'tsne' or 'pca'. Fix: pass one of them."
BAD_N_SAMPLES = (
    "n_samples={value!r} must be None (all rows) or an integer >= {minimum} (at least "
    "one row per group). Fix: pass e.g. n_samples=2000."
)
BAD_PERPLEXITY = (
    "perplexity={value!r} must be a number > 0 and smaller than the number of "
    "samples mapped ({n}). Fix: pass e.g. perplexity={suggest:g}."
)
BAD_PROBE = "probe={value!r} must be True or False. Fix: pass one of them."
BAD_CV = "cv={value!r} must be an integer >= 2 (number of folds). Fix: pass e.g. cv=5."
PROBE_TOO_FEW_IDENTITIES = (
    "the probe needs at least cv={cv} identities to form identity-disjoint folds; the "
    "probed samples have {n}. Fix: lower cv, pass more samples, or probe=False."
)
UNKNOWN_COLOR = (
    "color_by={value!r} is not a column of the coordinates; available: {available}. "
    "Fix: pass one of them."
)
WRONG_KIND = (
    "data has kind={value!r}, expected {kind!r}. Fix: pass the JSON written by "
    "{cls}.to_json()."
)
BAD_RANDOM_STATE = (
    "random_state={value!r} must be None, an integer >= 0 or a numpy.random.Generator. "
    "Fix: pass e.g. random_state=0."
)

#: columns of ``DiagnosticsResult.probe``
PROBE_COLUMNS = ("attribute", "accuracy_mean", "accuracy_std", "chance", "n_classes",
                 "n_samples", "n_identities", "n_splits")


@dataclass(frozen=True, eq=False)
class DiagnosticsResult(ResultOutput):
    """What :func:`embedding_diagnostics` found.

    Attributes
    ----------
    by : tuple of str
        The attributes diagnosed.
    coords : DataFrame
        One row per mapped sample: ``index`` (row of the data), ``x``, ``y``
        (t-SNE or PCA coordinates), ``identity``, every attribute of the data,
        and, when ``by`` names several attributes, their intersection label in
        a column named after them (``"gender & ethnicity"``, values ``"H & A"``).
    probe : DataFrame
        One row per attribute of ``by`` and their intersection (empty when
        ``probe=False``). Columns: ``attribute``; ``accuracy_mean`` and
        ``accuracy_std`` (over the identity-grouped, stratified folds);
        ``chance`` (share of the majority class: what always guessing it
        scores); ``n_classes``; ``n_samples``; ``n_identities``; ``n_splits``.
    params : dict
        The arguments (random_state resolved to an int).
    provenance : dict
    notes : list of str
    """

    by: tuple
    coords: pd.DataFrame
    probe: pd.DataFrame
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)

    kind = "diagnostics"

    @property
    def color_columns(self) -> list[str]:
        """Columns of ``coords`` that :func:`plot_embedding` can colour by."""
        return [c for c in self.coords.columns if c not in ("index", "x", "y")]

    def plot(self, color_by: str, ax: Any = None, **kwargs: Any) -> Any:
        """Shortcut for :func:`plot_embedding`."""
        return plot_embedding(self, color_by, ax=ax, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of the result."""
        return to_jsonable({
            "kind": self.kind,
            "by": list(self.by),
            "coords": frame_to_dict(self.coords),
            "probe": frame_to_dict(self.probe),
            "params": self.params,
            "provenance": self.provenance,
            "notes": list(self.notes),
        })


    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DiagnosticsResult":
        """Rebuild a result from :meth:`to_dict` output."""
        if data.get("kind") != cls.kind:
            raise errors.FairauditInputError(
                WRONG_KIND.format(value=data.get("kind"), kind=cls.kind, cls=cls.__name__))
        coords = frame_from_dict(data["coords"])
        for column in ("x", "y"):
            coords[column] = coords[column].astype(np.float64)
        coords["index"] = coords["index"].astype(np.int64)
        probe = frame_from_dict(data["probe"]) if data["probe"]["data"] else _empty_probe()
        for column in ("accuracy_mean", "accuracy_std", "chance"):
            probe[column] = pd.to_numeric(probe[column], errors="coerce").astype(np.float64)
        for column in ("n_classes", "n_samples", "n_identities", "n_splits"):
            probe[column] = probe[column].astype(np.int64)
        return cls(by=tuple(data["by"]), coords=coords, probe=probe, params=data["params"],
                   provenance=data["provenance"], notes=list(data.get("notes", [])))

    def summary(self) -> str:
        """Plain text: the probe table."""
        lines = [f"Embedding diagnostics ({self.params.get('method')}) of "
                 f"{len(self.coords)} samples by {' x '.join(self.by)}"]
        if len(self.probe):
            lines += ["", "Probe: cross-validated accuracy of predicting each attribute "
                      "(identity-disjoint folds) vs always guessing the majority class:",
                      self.probe.to_string(index=False, float_format=lambda v: f"{v:.4f}")]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"DiagnosticsResult(by={list(self.by)}, n={len(self.coords)}, probe={len(self.probe)} rows)"


def _empty_probe() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object if c == "attribute" else
                                      np.int64 if c.startswith("n_") else np.float64)
                         for c in PROBE_COLUMNS})


def _resolve_seed(random_state: Any) -> int:
    if random_state is None:
        return int(np.random.SeedSequence().entropy % (2**32))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2**32 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return int(random_state)
    raise errors.FairauditInputError(BAD_RANDOM_STATE.format(value=random_state))


def stratified_subsample(labels: Any, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices of a subsample with every label in proportion.

    Each label gets ``n_samples * share`` rows (largest-remainder rounding),
    and at least one row.
    """
    labels = np.asarray(labels).astype(str)
    uniq, inv = np.unique(labels, return_inverse=True)
    counts = np.bincount(inv)
    quotas = counts / counts.sum() * n_samples
    take = np.maximum(np.floor(quotas).astype(np.int64), 1)
    take = np.minimum(take, counts)
    short = n_samples - int(take.sum())
    if short > 0:
        room = counts - take
        order = np.argsort(-(quotas - np.floor(quotas)), kind="stable")
        for i in order:
            if short == 0:
                break
            extra = min(room[i], short, 1)
            take[i] += extra
            short -= extra
    parts = [rng.choice(np.flatnonzero(inv == k), size=int(take[k]), replace=False)
             for k in range(len(uniq))]
    return np.sort(np.concatenate(parts)).astype(np.int64)


def _probe_one(X: np.ndarray, y: np.ndarray, ids: np.ndarray, cv: int, seed: int) -> dict[str, Any]:
    import warnings

    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedGroupKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    classes, counts = np.unique(y, return_counts=True)
    row = {"accuracy_mean": math.nan, "accuracy_std": math.nan,
           "chance": float(counts.max() / counts.sum()), "n_classes": int(classes.size),
           "n_samples": int(len(y)), "n_identities": int(np.unique(ids).size), "n_splits": int(cv)}
    if classes.size < 2:
        return row
    splitter = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    with warnings.catch_warnings():
        # a class with fewer identities than folds only makes some folds lack it
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        scores = cross_val_score(model, X, y, groups=ids, cv=splitter, scoring="accuracy")
    row["accuracy_mean"] = float(np.mean(scores))
    row["accuracy_std"] = float(np.std(scores, ddof=1)) if len(scores) > 1 else math.nan
    return row


def embedding_diagnostics(
    data: EmbeddingSet,
    *,
    by: str | Sequence[str],
    method: str = "tsne",
    n_samples: int | None = None,
    perplexity: float = 30,
    probe: bool = True,
    cv: int = 5,
    random_state: int | np.random.Generator | None = 0,
) -> DiagnosticsResult:
    """Map the embeddings to 2-D and probe how well they predict each attribute.

    Parameters
    ----------
    data : EmbeddingSet
        Features are the L2-normalised embeddings.
    by : str or sequence of str
        Attributes to diagnose, e.g. ``["gender", "ethnicity"]``; with several,
        their intersection is probed and attached to the coordinates too.
    method : {"tsne", "pca"}, default "tsne"
        scikit-learn ``TSNE`` (2-D, PCA initialisation, automatic learning
        rate, seeded) or ``PCA`` (2 components).
    n_samples : int, optional
        Diagnose a subsample of this many rows, stratified by the
        intersection of ``by`` (every group keeps its share, and at least one
        row). Both the map and the probe use it. None: all rows. t-SNE costs
        roughly O(n log n); a few thousand points draw a readable map.
    perplexity : float, default 30
        t-SNE perplexity; must be smaller than the number of mapped samples.
    probe : bool, default True
        Run the probe.
    cv : int, default 5
        Folds of the probe (``StratifiedGroupKFold`` by identity: each
        identity's samples stay in one fold, classes are spread evenly).
    random_state : int, Generator or None, default 0
        Seeds the subsample, t-SNE and the fold assignment.

    Returns
    -------
    DiagnosticsResult

    Raises
    ------
    FairauditInputError
        On an unknown attribute, a bad ``method``, ``n_samples``,
        ``perplexity`` or ``cv``, or fewer identities than folds.
    """
    start = time.perf_counter()
    if not isinstance(data, EmbeddingSet):
        raise errors.FairauditInputError(BAD_DATA.format(type=type(data).__name__))
    by_t = normalize_by(by, data.attribute_names)
    if method not in ("tsne", "pca"):
        raise errors.FairauditInputError(BAD_METHOD.format(value=method))
    if not isinstance(probe, (bool, np.bool_)):
        raise errors.FairauditInputError(BAD_PROBE.format(value=probe))
    if isinstance(cv, bool) or not isinstance(cv, numbers.Integral) or cv < 2:
        raise errors.FairauditInputError(BAD_CV.format(value=cv))
    seed = _resolve_seed(random_state)
    rng = np.random.default_rng(seed)

    groups = make_groups({name: data.column(name) for name in by_t}, by_t)
    group_labels = np.asarray(groups.labels, dtype=object)[groups.codes].astype(str)
    n_total = len(data)
    if n_samples is None or (isinstance(n_samples, numbers.Integral) and not isinstance(n_samples, bool)
                             and n_samples >= n_total):
        rows = np.arange(n_total)
    else:
        minimum = max(groups.n_groups, 3)
        if isinstance(n_samples, bool) or not isinstance(n_samples, numbers.Integral) or n_samples < minimum:
            raise errors.FairauditInputError(BAD_N_SAMPLES.format(value=n_samples, minimum=minimum))
        rows = stratified_subsample(group_labels, int(n_samples), rng)
    n = rows.size
    if (isinstance(perplexity, bool) or not isinstance(perplexity, numbers.Real)
            or not 0 < float(perplexity) < n) and method == "tsne":
        raise errors.FairauditInputError(
            BAD_PERPLEXITY.format(value=perplexity, n=n, suggest=max(1.0, min(30.0, (n - 1) / 3))))

    X = data.normalized()[rows]
    ids = np.asarray(data.identity)[rows]
    map_seed = int(rng.integers(0, 2**31 - 1))
    with limited_threads():
        if method == "tsne":
            from sklearn.manifold import TSNE

            xy = TSNE(n_components=2, perplexity=float(perplexity), init="pca", learning_rate="auto",
                      random_state=map_seed).fit_transform(X)
        else:
            from sklearn.decomposition import PCA

            xy = PCA(n_components=2, random_state=map_seed).fit_transform(X)

    coords = pd.DataFrame({"index": rows.astype(np.int64), "x": xy[:, 0].astype(np.float64),
                           "y": xy[:, 1].astype(np.float64), "identity": ids})
    attrs = data.attributes
    for column in data.attribute_names:
        coords[column] = attrs[column].to_numpy()[rows]
    intersection = LABEL_SEP.join(by_t)
    if len(by_t) > 1:
        coords[intersection] = group_labels[rows]

    notes: list[str] = []
    probe_rows = []
    if probe:
        n_ids = int(np.unique(ids).size)
        if n_ids < cv:
            raise errors.FairauditInputError(PROBE_TOO_FEW_IDENTITIES.format(cv=cv, n=n_ids))
        targets = list(by_t) + ([intersection] if len(by_t) > 1 else [])
        probe_seed = int(rng.integers(0, 2**31 - 1))
        for name in targets:
            y = coords[name].to_numpy().astype(str)
            with limited_threads():
                row = _probe_one(X, y, ids, int(cv), probe_seed)
            if row["n_classes"] < 2:
                notes.append(f"attribute {name!r} has a single value in the probed samples: "
                             "its probe accuracy is NaN.")
            probe_rows.append({"attribute": name, **row})
    probe_frame = pd.DataFrame(probe_rows, columns=list(PROBE_COLUMNS)) if probe_rows else _empty_probe()
    if n < n_total:
        notes.append(f"diagnosed a stratified subsample of {n} of {n_total} rows.")

    return DiagnosticsResult(
        by=by_t,
        coords=coords,
        probe=probe_frame,
        params={"by": list(by_t), "method": method, "n_samples": None if n_samples is None else int(n_samples),
                "perplexity": float(perplexity) if method == "tsne" else None, "probe": bool(probe),
                "cv": int(cv), "random_state": seed, "n_features": int(data.n_features)},
        provenance=provenance(elapsed_s=time.perf_counter() - start),
        notes=notes,
    )


def plot_embedding(result: DiagnosticsResult, color_by: str, ax: Any = None, *,
                   s: float = 6.0, alpha: float = 0.7, legend: bool = True) -> Any:
    """Scatter the 2-D map coloured by one attribute (the study's t-SNE figures).

    Parameters
    ----------
    result : DiagnosticsResult
    color_by : str
        A column of ``result.coords``: an attribute (``"gender"``), the
        intersection (``"gender & ethnicity"``) or ``"identity"``.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure's axes.
    s, alpha : float
        Marker size and opacity.
    legend : bool, default True
        Draw a legend (skipped when there are more than 20 categories).

    Returns
    -------
    matplotlib.axes.Axes
        The axes drawn on; ``plt.show()`` is never called.
    """
    if color_by not in result.color_columns:
        raise errors.FairauditInputError(
            UNKNOWN_COLOR.format(value=color_by, available=result.color_columns))
    import matplotlib.pyplot as plt

    from fairaudit.common.figures import literal

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 5))
    values = result.coords[color_by].astype(str).to_numpy()
    categories = sorted(set(values))
    cmap = plt.get_cmap("tab10" if len(categories) <= 10 else "tab20")
    for i, category in enumerate(categories):
        mask = values == category
        ax.scatter(result.coords["x"].to_numpy()[mask], result.coords["y"].to_numpy()[mask],
                   s=s, alpha=alpha, color=cmap(i % cmap.N), label=literal(category), linewidths=0)
    method = str(result.params.get("method", "")).upper().replace("TSNE", "t-SNE")
    ax.set_title(f"{method} of the embeddings, coloured by {literal(color_by)}")
    ax.set_xlabel(f"{method} 1")
    ax.set_ylabel(f"{method} 2")
    ax.set_xticks([])
    ax.set_yticks([])
    if legend and len(categories) <= 20:
        ax.legend(title=literal(color_by), markerscale=2, fontsize="small", frameon=False)
    return ax
