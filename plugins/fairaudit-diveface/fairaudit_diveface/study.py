"""The reference study, rerun: tasks 1.0 to 2.6, under the original and the corrected protocol.

:func:`run_study` works from embeddings alone (the demo and the docs run it
on ``fairaudit.synthetic.population("diveface", ...)``); the ``fairaudit study
diveface`` command extracts the embeddings from DiveFace images first.

Tasks (numbering of the study's report):

* **1.0** pairwise scores of a few named photos, "same person" when score >= 0.5;
* **1.1** verification on 10 identities x 5 images, audited by
  :func:`fairaudit.verification_audit` (each unordered pair once, EER, AUC);
* **1.2** a subset of N samples per gender x ethnicity group (the first N of
  each group, as the study took them; 350 in the study);
* **1.3** t-SNE of that subset coloured by gender, ethnicity and both, and a
  probe of how well each attribute is predicted from the embedding;
* **2.1-2.6** gender heads per ethnicity (cross-evaluated), a pooled head, a
  six-class head and two biased mixtures, each run twice:

  - under the **original protocol** (:mod:`fairaudit_diveface.leaky`), LEAKY:
    the pooled and mixture heads are scored on test rows most of which they
    were trained on; the overlap is measured and reported;
  - under the **corrected protocol** (:func:`fairaudit.classification.run_study_protocol`):
    one identity-disjoint test set per seed serves every model.

The result puts both side by side, with the figures the study reported.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit import EmbeddingSet, FairauditInputError

from .leaky import STUDY_MIXTURES, run_original_protocol

#: the figures the study's report gives for tasks 2.2-2.6 (accuracy, as fractions)
REPORTED = pd.DataFrame(
    [
        ("2.2", "A", "B", 0.8464, ""), ("2.2", "A", "N", 0.9797, ""),
        ("2.2", "B", "B", 0.9838, ""), ("2.2", "B", "A", 0.8686, ""), ("2.2", "B", "N", 0.9191, ""),
        ("2.2", "N", "N", 0.9919, ""), ("2.2", "N", "B", 0.9131, ""), ("2.2", "N", "A", 0.8686, ""),
        ("2.4", "pooled", "A", math.nan, "> 99.5 %"), ("2.4", "pooled", "B", math.nan, "> 99.5 %"),
        ("2.4", "pooled", "N", math.nan, "> 99.5 %"),
        ("2.5", "six-class", "all", 0.9704, "text also says 97.44 %"),
        ("2.6", "B60-A30-N10", "B", 0.9960, ""), ("2.6", "B60-A30-N10", "A", 0.9953, ""),
        ("2.6", "B60-A30-N10", "N", 0.9873, ""),
        ("2.6", "N80-A20-B0", "B", 0.8484, ""), ("2.6", "N80-A20-B0", "A", 0.9878, ""),
        ("2.6", "N80-A20-B0", "N", 0.9939, ""),
    ],
    columns=["task", "model", "test_group", "reported", "reported_note"],
)
#: what the report says about tasks 1.0-1.3
REPORTED_NOTES = {
    "1.0": "Einstein-Einstein 0.61 (same person); other pairs 0.21-0.38",
    "1.1": "FAR/FRR cross in 0.53-0.58; AUC ~ 1.00",
    "1.2": "350 per group",
    "1.3": "2, 3 and 6 visible clusters (gender, ethnicity, both)",
}
COMPARISON_COLUMNS = (
    "task", "model", "test_group", "reported", "reported_note",
    "original_accuracy", "original_std", "corrected_accuracy", "corrected_ci_low",
    "corrected_ci_high", "inflation", "overlap_rows", "overlap_identities",
    "n_test_original", "n_test_corrected",
)
SAME_PERSON_THRESHOLD = 0.5

BAD_DATA = (
    "embeddings must be a fairaudit.EmbeddingSet with the attributes 'gender' and "
    "'ethnicity' (DiveFace: H/M and A/B/N); got {what}. Fix: load one with "
    "fairaudit.EmbeddingSet.load(...) or draw fairaudit.synthetic.population('diveface', ...)."
)
BAD_PHOTOS = (
    "photos must map a photo name to one embedding (a 1-D array of {d} numbers); {name!r} "
    "is {what}. Fix: pass e.g. {{'einstein_0': vector, ...}}."
)
BAD_IMAGES_PER_IDENTITY = (
    "images_per_identity={value!r} must be 1 (the study: one image per identity) or 'all'. "
    "Fix: pass one of them."
)
BAD_N_SEEDS = "n_seeds={value!r} must be an integer >= 1. Fix: pass e.g. n_seeds=3."


@dataclass(frozen=True, eq=False)
class StudyResult:
    """What :func:`run_study` found.

    Attributes
    ----------
    comparison : DataFrame
        The side-by-side table, one row per task x model x test group
        (:data:`COMPARISON_COLUMNS`): ``reported`` (the study's figure, NaN
        where it gave none; ``reported_note`` for the rest),
        ``original_accuracy`` / ``original_std`` (mean and sample std over
        seeds, original LEAKY protocol), ``corrected_accuracy`` with
        ``corrected_ci_low`` / ``corrected_ci_high`` (corrected protocol:
        one identity-disjoint test set), ``inflation`` (original minus
        corrected), ``overlap_rows`` / ``overlap_identities`` (mean share of
        the original protocol's test rows that were in the model's training
        rows / whose identity was), ``n_test_original`` / ``n_test_corrected``.
    overlap : DataFrame
        The overlap per seed (see :mod:`fairaudit_diveface.leaky`).
    original : DataFrame
        Accuracy of the original protocol per seed, task, model, test group.
    corrected : dict
        ``per_group``, ``pooled``, ``six_class``, ``mixtures``: the
        :class:`fairaudit.ClassificationResult` of each corrected audit.
    verification : VerificationResult or None
        Task 1.1 (None, with a note, when no identity has 5 samples).
    subset_counts : DataFrame
        Task 1.2: samples per gender x ethnicity group in the t-SNE subset.
    diagnostics : DiagnosticsResult or None
        Task 1.3.
    photos : DataFrame or None
        Task 1.0: ``photo_a``, ``photo_b``, ``score``, ``same_person``.
    params, provenance : dict
    notes : list of str
    files : dict
        Paths written (empty when ``out`` is None).
    """

    comparison: pd.DataFrame
    overlap: pd.DataFrame
    original: pd.DataFrame
    corrected: dict
    verification: Any
    subset_counts: pd.DataFrame
    diagnostics: Any
    photos: pd.DataFrame | None
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)
    files: dict = field(default_factory=dict)

    kind = "diveface-study"

    def comparison_table(self) -> pd.DataFrame:
        """The comparison as a readable table of percentages (strings)."""
        def pct(v: float) -> str:
            return "" if v is None or not np.isfinite(v) else f"{100 * v:.2f}"

        rows = []
        for r in self.comparison.itertuples(index=False):
            rep = pct(r.reported) if np.isfinite(r.reported) else r.reported_note
            ci = (f"[{pct(r.corrected_ci_low)}, {pct(r.corrected_ci_high)}]"
                  if np.isfinite(r.corrected_ci_low) else "")
            rows.append({
                "task": r.task, "model": r.model, "test": r.test_group, "reported": rep,
                "original (LEAKY)": pct(r.original_accuracy),
                "corrected": pct(r.corrected_accuracy), "corrected 95% CI": ci,
                "inflation": "" if not np.isfinite(r.inflation) else f"{100 * r.inflation:+.2f}",
                "test rows seen in training": pct(r.overlap_rows),
            })
        return pd.DataFrame(rows)

    def summary(self) -> str:
        """Plain text: every task, then the side-by-side table."""
        p = self.params
        lines = [
            "Reference study rerun (fairaudit-diveface)",
            f"data: {p['n_samples']} samples, {p['n_identities']} identities, {p['n_features']}-d; "
            f"classification on {p['n_classification']} samples ({p['images_per_identity']} image(s) "
            f"per identity); head {p['head']}; {p['n_seeds']} seed(s) from random_state={p['random_state']}",
            "",
        ]
        if self.photos is not None and len(self.photos):
            lines += ["Task 1.0: pairwise scores (same person when score >= 0.5)",
                      self.photos.to_string(index=False, float_format=lambda v: f"{v:.2f}"), ""]
        else:
            lines += ["Task 1.0: skipped (no photos given).", ""]
        if self.verification is not None:
            o = self.verification.overall
            lines += [
                "Task 1.1: verification on 10 identities x 5 images (each unordered pair once)",
                f"  genuine pairs {int(o['n_genuine'])}, impostor pairs {int(o['n_impostor'])} "
                f"(the study counted each impostor pair twice: {2 * int(o['n_impostor'])})",
                f"  EER {o['eer']:.4f} at threshold {o['eer_threshold']:.4f}; AUC {o['auc']:.4f}"
                f"   (reported: {REPORTED_NOTES['1.1']})", ""]
        else:
            lines += ["Task 1.1: skipped (see notes).", ""]
        counts = ", ".join(f"{k}: {v}" for k, v in
                           zip(self.subset_counts["group"], self.subset_counts["n"]))
        lines += [f"Task 1.2: subset per group: {counts}", ""]
        if self.diagnostics is not None:
            lines += ["Task 1.3: " + self.diagnostics.summary(), ""]
        else:
            lines += ["Task 1.3: skipped.", ""]
        lines += [
            "Tasks 2.1-2.6: gender (and six-class) heads, accuracy in %.",
            "  original (LEAKY): the study's protocol; the pooled (2.4) and mixture (2.6) heads are",
            "    scored on per-ethnicity test sets drawn independently of their own training split.",
            "  corrected: one identity-disjoint test set per seed for every model (fairaudit).",
            "",
            self.comparison_table().to_string(index=False),
        ]
        if self.notes:
            lines += ["", *(f"note: {n}" for n in self.notes)]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary (fitted models and per-prediction tables excluded)."""
        from fairaudit.common.serialize import frame_to_dict, to_jsonable

        corrected = {name: {"cross": frame_to_dict(res.cross), "fairness": frame_to_dict(res.fairness),
                            "training": frame_to_dict(res.training), "params": res.params,
                            "notes": list(res.notes)}
                     for name, res in self.corrected.items()}
        verification = None
        if self.verification is not None:
            verification = {"overall": {k: to_jsonable(v) for k, v in self.verification.overall.items()},
                            "threshold": self.verification.threshold,
                            "policy": self.verification.policy}
        return to_jsonable({
            "kind": self.kind,
            "comparison": frame_to_dict(self.comparison),
            "overlap": frame_to_dict(self.overlap),
            "original": frame_to_dict(self.original),
            "corrected": corrected,
            "task_1_0": None if self.photos is None else frame_to_dict(self.photos),
            "task_1_1": verification,
            "task_1_2": frame_to_dict(self.subset_counts),
            "task_1_3": None if self.diagnostics is None else frame_to_dict(self.diagnostics.probe),
            "reported": {"tasks_2": frame_to_dict(REPORTED), "tasks_1": REPORTED_NOTES},
            "params": self.params,
            "provenance": self.provenance,
            "notes": list(self.notes),
            "files": {k: str(v) for k, v in self.files.items()},
        })

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        """Serialise to JSON; also write it atomically when ``path`` is given."""
        from fairaudit.common.files import write_text_atomic
        from fairaudit.common.serialize import dumps

        text = dumps(self.to_dict(), indent=indent)
        if path is not None:
            write_text_atomic(path, text)
        return text

    def __repr__(self) -> str:
        return (f"StudyResult(rows={len(self.comparison)}, seeds={self.params.get('n_seeds')}, "
                f"head={self.params.get('head')!r})")


# --- pieces ---------------------------------------------------------------------
def _check(embeddings: Any) -> None:
    if not isinstance(embeddings, EmbeddingSet):
        raise FairauditInputError(BAD_DATA.format(what=f"a {type(embeddings).__name__}"))
    missing = [a for a in ("gender", "ethnicity") if a not in embeddings.attribute_names]
    if missing:
        raise FairauditInputError(BAD_DATA.format(
            what=f"an EmbeddingSet with attributes {embeddings.attribute_names}"))


def first_per_identity(data: EmbeddingSet) -> EmbeddingSet:
    """The first sample (in data order) of every identity, as the study took one image per identity."""
    _, first = np.unique(np.asarray(data.identity), return_index=True)
    return data.subset(np.sort(first))


def photo_scores(photos: Mapping[str, Any], *, threshold: float = SAME_PERSON_THRESHOLD) -> pd.DataFrame:
    """Task 1.0: cosine score of every pair of named photos and the same-person decision."""
    names = list(photos)
    vecs = []
    d = None
    for name in names:
        v = np.asarray(photos[name], dtype=np.float64).ravel()
        if d is None:
            d = v.size
        if v.size != d or not np.all(np.isfinite(v)) or not np.any(v):
            raise FairauditInputError(BAD_PHOTOS.format(
                d=d, name=name, what=f"an array of shape {np.shape(photos[name])}"))
        vecs.append(v / np.linalg.norm(v))
    rows = []
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            score = float(vecs[i] @ vecs[j])
            rows.append({"photo_a": names[i], "photo_b": names[j], "score": score,
                         "same_person": bool(score >= threshold)})
    return pd.DataFrame(rows, columns=["photo_a", "photo_b", "score", "same_person"])


def ten_by_five(data: EmbeddingSet, *, n_identities: int = 10, n_images: int = 5,
                random_state: int = 0) -> EmbeddingSet | None:
    """Task 1.1's set: ``n_identities`` identities with ``n_images`` samples each (None if impossible).

    Identities with at least ``n_images`` samples are drawn at random, spread
    over the gender x ethnicity groups in turn; each keeps its first samples.
    """
    ids = np.asarray(data.identity)
    names, counts = np.unique(ids, return_counts=True)
    eligible = names[counts >= n_images]
    if eligible.size < 2:
        return None
    frame = pd.DataFrame({"identity": ids, "group": np.char.add(
        np.asarray(data.column("gender")).astype(str), np.asarray(data.column("ethnicity")).astype(str))})
    group_of = frame.drop_duplicates("identity").set_index("identity")["group"]
    rng = np.random.default_rng(random_state)
    pools = {g: list(rng.permutation(sorted(eligible[group_of.loc[eligible].to_numpy() == g])))
             for g in sorted(set(group_of.loc[eligible]))}
    chosen: list[str] = []
    while len(chosen) < n_identities and any(pools.values()):
        for g in sorted(pools):
            if pools[g] and len(chosen) < n_identities:
                chosen.append(pools[g].pop())
    keep = []
    for name in sorted(chosen):
        keep.extend(np.flatnonzero(ids == name)[:n_images].tolist())
    return data.subset(np.sort(np.asarray(keep)))


def first_n_per_group(data: EmbeddingSet, n: int | None) -> EmbeddingSet:
    """Task 1.2: the first ``n`` samples of every gender x ethnicity group (all when None)."""
    if n is None:
        return data
    frame = pd.DataFrame({"g": data.column("gender"), "e": data.column("ethnicity")})
    keep = frame.groupby(["g", "e"], sort=True).head(int(n)).index.to_numpy()
    return data.subset(np.sort(keep))


def _group_counts(data: EmbeddingSet) -> pd.DataFrame:
    labels = pd.Series(np.char.add(np.asarray(data.column("gender")).astype(str),
                                   np.asarray(data.column("ethnicity")).astype(str)))
    counts = labels.value_counts().sort_index()
    return pd.DataFrame({"group": counts.index.astype(str), "n": counts.to_numpy().astype(np.int64)})


def _original_tables(leak: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    pred = leak["predictions"]
    correct = pred.assign(correct=(pred["y_true"] == pred["y_pred"]).astype(np.float64))
    per_seed = (correct.groupby(["seed", "task", "model", "test_group"], sort=False)["correct"]
                .agg(["mean", "size"]).reset_index()
                .rename(columns={"mean": "accuracy", "size": "n_test"}))
    summary = (per_seed.groupby(["task", "model", "test_group"], sort=False)
               .agg(original_accuracy=("accuracy", "mean"),
                    original_std=("accuracy", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else math.nan),
                    n_test_original=("n_test", "mean")).reset_index())
    ov = (leak["overlap"].groupby(["task", "model", "test_group"], sort=False)
          [["overlap_rows", "overlap_identities"]].mean().reset_index())
    return per_seed, summary.merge(ov, on=["task", "model", "test_group"], how="left")


def _corrected_table(corrected: Mapping[str, Any]) -> pd.DataFrame:
    frames = []
    for task, key, rename in (("2.2", "per_group", None), ("2.4", "pooled", None),
                              ("2.5", "six_class", "six-class"), ("2.6", "mixtures", None)):
        cross = corrected[key].cross.copy()
        if rename is not None:
            cross["model"] = rename
        cross.insert(0, "task", task)
        frames.append(cross)
    out = pd.concat(frames, ignore_index=True)
    return out.rename(columns={"accuracy_mean": "corrected_accuracy", "ci_low": "corrected_ci_low",
                               "ci_high": "corrected_ci_high", "n_test": "n_test_corrected"})[
        ["task", "model", "test_group", "corrected_accuracy", "corrected_ci_low",
         "corrected_ci_high", "n_test_corrected"]]


def _comparison(original: pd.DataFrame, corrected: pd.DataFrame) -> pd.DataFrame:
    keys = ["task", "model", "test_group"]
    table = original.merge(corrected, on=keys, how="outer").merge(REPORTED, on=keys, how="left")
    table["reported_note"] = table["reported_note"].fillna("")
    table["inflation"] = table["original_accuracy"] - table["corrected_accuracy"]
    task_order = {"2.2": 0, "2.4": 1, "2.5": 2, "2.6": 3}
    model_order = {m: i for i, m in enumerate(["A", "B", "N", "pooled", "six-class",
                                               *[n for n, _ in STUDY_MIXTURES]])}
    table = table.assign(_t=table["task"].map(task_order), _m=table["model"].map(model_order).fillna(99),
                         _g=table["test_group"].map(lambda g: (g == "all", g)))
    table = table.sort_values(["_t", "_m", "_g"], kind="stable").drop(columns=["_t", "_m", "_g"])
    table["n_test_original"] = table["n_test_original"].round()
    table["n_test_corrected"] = table["n_test_corrected"].astype(float)
    return table[list(COMPARISON_COLUMNS)].reset_index(drop=True)


def _save_tsne(diag: Any, out: Path) -> list[Path]:
    from matplotlib.figure import Figure

    paths = []
    for column, stem in (("gender", "gender"), ("ethnicity", "ethnicity"),
                         ("gender & ethnicity", "gender_ethnicity")):
        if column not in diag.color_columns:
            continue
        fig = Figure(figsize=(6, 5))
        diag.plot(column, ax=fig.add_subplot())
        fig.tight_layout()
        path = out / f"task1.3_tsne_{stem}.png"
        fig.savefig(path, dpi=110)
        paths.append(path)
    return paths


# --- the recipe -------------------------------------------------------------------
def run_study(
    embeddings: EmbeddingSet,
    *,
    out: str | Path | None = None,
    head: Any = "logistic",
    n_seeds: int = 3,
    random_state: int = 0,
    images_per_identity: int | str = 1,
    verification_data: EmbeddingSet | None = None,
    photos: Mapping[str, Any] | None = None,
    subset_per_group: int | None = 350,
    tsne: bool = True,
    n_boot: int = 0,
    mixture_size: int | None = None,
    plots: bool = True,
    progress: bool | None = None,
) -> StudyResult:
    """Rerun the reference study's tasks 1.0-2.6 on embeddings, original vs corrected.

    Parameters
    ----------
    embeddings : EmbeddingSet
        With attributes ``gender`` (H/M) and ``ethnicity`` (A/B/N): DiveFace
        embeddings, or ``fairaudit.synthetic.population("diveface", ...)``.
    out : path, optional
        Directory to write ``study.json``, ``comparison.csv``, ``summary.txt``,
        the corrected audits' JSON and the plots to. None: write nothing.
    head : "logistic", "mlp" or estimator, default "logistic"
        The classifier head (the study's was ``"mlp"``: Dense 2048 ReLU ->
        softmax, Adam, 20 epochs, batch 32).
    n_seeds : int, default 3
        Repetitions of both protocols (the study ran one, with seed 42).
    random_state : int, default 0
        Root seed; both protocols use the same per-seed seeds.
    images_per_identity : 1 or "all", default 1
        Tasks 1.2-2.6 use the first sample of every identity (the study's one
        image per identity), or every sample.
    verification_data : EmbeddingSet, optional
        The 10 x 5 set of task 1.1 (the study's ``bbdd_10_personas``); default:
        10 identities with at least 5 samples drawn from ``embeddings``.
    photos : dict of str to 1-D array, optional
        Task 1.0: embeddings of named photos; skipped when None.
    subset_per_group : int or None, default 350
        Task 1.2's samples per gender x ethnicity group (the first ones).
    tsne : bool, default True
        Run task 1.3 (t-SNE and the probe) on that subset.
    n_boot : int, default 0
        Identity-bootstrap replicates of task 1.1's intervals (0 = none: with
        10 identities the intervals say little).
    mixture_size : int, optional
        Rows each biased mixture of the ORIGINAL protocol asks for (default
        two thirds of the rows: the study's 3000 of 4500). The corrected
        protocol uses the largest size both mixtures can fill.
    plots : bool, default True
        With ``out``, also write the PNG figures of tasks 1.1 and 1.3 to
        ``out/plots``.
    progress : bool or None
        Progress bars of the corrected audits.

    Returns
    -------
    StudyResult
    """
    from fairaudit.classification.audit import derive_seeds, run_study_protocol
    from fairaudit.classification.heads import head_name
    from fairaudit.common.provenance import provenance

    start = time.perf_counter()
    _check(embeddings)
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or n_seeds < 1:
        raise FairauditInputError(BAD_N_SEEDS.format(value=n_seeds))
    if images_per_identity not in (1, "all"):
        raise FairauditInputError(BAD_IMAGES_PER_IDENTITY.format(value=images_per_identity))
    notes: list[str] = []
    timings: dict[str, float] = {}

    def tick(name: str, t0: float) -> None:
        timings[name] = round(time.perf_counter() - t0, 3)

    # 1.0
    photo_table = None if photos is None else photo_scores(photos)
    if photos is None:
        notes.append("task 1.0 skipped: no photos given (CLI: --photos FILE ...).")

    # 1.1
    t0 = time.perf_counter()
    verification = None
    vset = verification_data if verification_data is not None else ten_by_five(
        embeddings, random_state=random_state)
    if vset is None:
        notes.append("task 1.1 skipped: no identity has 5 samples; pass verification_data "
                     "(CLI: --ten-people DIR) or data with several samples per identity.")
    else:
        from fairaudit.verification.audit import verification_audit

        by = "ethnicity" if "ethnicity" in vset.attribute_names else vset.attribute_names[0]
        verification = verification_audit(vset, by=by, threshold="eer", n_boot=n_boot,
                                          random_state=random_state, progress=False)
        notes.append("task 1.1 counts every unordered pair once and reads FMR/FNMR at every "
                     "observed score; the study counted impostor pairs twice and used 50 fixed "
                     "thresholds.")
    tick("1.1", t0)

    # tasks 1.2-2.6 use one image per identity, as the study did
    data = first_per_identity(embeddings) if images_per_identity == 1 else embeddings
    subset = first_n_per_group(data, subset_per_group)
    counts = _group_counts(subset)
    diagnostics = None
    if tsne:
        from fairaudit.diagnostics.audit import embedding_diagnostics

        t0 = time.perf_counter()
        diagnostics = embedding_diagnostics(subset, by=["gender", "ethnicity"], method="tsne",
                                            random_state=random_state)
        tick("1.3", t0)

    # 2.1-2.6, original (leaky) protocol
    root, seeds = derive_seeds(random_state, int(n_seeds))
    t0 = time.perf_counter()
    leak = run_original_protocol(data, head=head, seeds=seeds, mixture_size=mixture_size)
    tick("original", t0)
    per_seed, original = _original_tables(leak)

    # 2.1-2.6, corrected protocol
    t0 = time.perf_counter()
    corrected = run_study_protocol(data, head=head, n_seeds=int(n_seeds), random_state=root,
                                   diagnostics=False, progress=progress)
    tick("corrected", t0)
    corrected_results = {k: corrected[k] for k in ("per_group", "pooled", "six_class", "mixtures")}
    comparison = _comparison(original, _corrected_table(corrected_results))

    for name, taken in leak["mixtures"].items():
        asked = dict(STUDY_MIXTURES)[name]
        notes.append(
            f"original protocol, mixture {name}: asked {leak['mixture_size']} rows "
            f"({', '.join(f'{e}={s:g}' for e, s in asked.items())}), got {sum(taken.values())} "
            f"({', '.join(f'{k}={v}' for k, v in taken.items())}) - the study's slicing "
            "silently capped every cell at what it holds; 67 % of them trained the head.")
    notes.append(f"corrected protocol: both mixtures train on {corrected['mixture_size']} rows "
                 "(the largest size both can fill outside the test set).")
    pooled_ov = comparison.loc[(comparison["task"] == "2.4") & (comparison["test_group"] != "all"),
                               "overlap_rows"]
    if len(pooled_ov):
        notes.append(f"LEAK: on average {100 * pooled_ov.mean():.1f} % of the test rows the study "
                     "scored its pooled head on were in that head's training data.")

    params = {
        "n_samples": len(embeddings), "n_identities": embeddings.n_identities,
        "n_features": embeddings.n_features, "n_classification": len(data),
        "images_per_identity": images_per_identity, "head": head_name(head),
        "n_seeds": int(n_seeds), "random_state": root, "seeds": seeds,
        "subset_per_group": subset_per_group, "n_boot": n_boot,
        "original_mixture_size": leak["mixture_size"],
        "corrected_mixture_size": corrected["mixture_size"], "timings": timings,
    }
    result = StudyResult(
        comparison=comparison, overlap=leak["overlap"], original=per_seed,
        corrected=corrected_results, verification=verification, subset_counts=counts,
        diagnostics=diagnostics, photos=photo_table, params=params,
        provenance=provenance(elapsed_s=time.perf_counter() - start,
                              extra_packages=("fairaudit-diveface", "tensorflow", "tf-keras")),
        notes=notes, files={},
    )
    if out is not None:
        result = _write(result, Path(out), plots=plots)
    return result


def _write(result: StudyResult, out: Path, *, plots: bool) -> StudyResult:
    from fairaudit.common.files import write_text_atomic

    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    plot_dir = out / "plots"
    for name, res in result.corrected.items():
        files[f"corrected_{name}"] = out / f"corrected_{name}.json"
        res.to_json(files[f"corrected_{name}"])
    if result.verification is not None:
        from fairaudit import plot

        files["task1.1"] = out / "task1.1_verification.json"
        result.verification.to_json(files["task1.1"])
        if plots:
            for path in plot.save_all(result.verification, plot_dir, prefix="task1.1"):
                files[f"plot_{path.stem}"] = path
    if result.diagnostics is not None:
        files["task1.3"] = out / "task1.3_diagnostics.json"
        result.diagnostics.to_json(files["task1.3"])
        if plots:
            plot_dir.mkdir(exist_ok=True)
            for path in _save_tsne(result.diagnostics, plot_dir):
                files[f"plot_{path.stem}"] = path
    files["comparison"] = out / "comparison.csv"
    write_text_atomic(files["comparison"], result.comparison.to_csv(index=False))
    files["summary"] = out / "summary.txt"
    files["study"] = out / "study.json"
    final = StudyResult(**{**{f: getattr(result, f) for f in result.__dataclass_fields__}, "files": files})
    write_text_atomic(files["summary"], final.summary() + "\n")
    final.to_json(files["study"])
    return final
