"""Planted parameters of the reference group, from a preset or calibrated on a pilot.

From an :class:`EmbeddingSet` pilot (the better source) the reference group's samples give, by the first-order
moments of :mod:`fairaudit.synthetic` (genuine cosine ``1 / (1 + sigma_w**2)``, same-group impostor cosine
``s / (1 + sigma_w**2)``): ``intra_spread`` from the mean genuine score, ``identity_similarity`` from the
mean impostor score and ``identity_jitter`` (how much harder some identities are: the identity clustering of
errors) from the spread of the per-identity spreads. A :class:`VerificationResult` pilot has no identities
left, only score histograms: it gives ``intra_spread`` and ``identity_similarity``; the jitters keep the
preset's values. Both give the impostor-score variance, which sets the simulation's embedding dimension
(:func:`fairaudit.planning.simulation.effective_dim`): the impostor spread places the threshold of a target
FMR, so a plan is only as good as this match.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from fairaudit.common.errors import FairauditInputError
from fairaudit.data import EmbeddingSet, make_groups, normalize_by, synthetic

BAD_PILOT = ("pilot={value!r} is not an EmbeddingSet, a VerificationResult or a path to one (.npz, .parquet or "
             "a result .json). Fix: pass a pilot population or the JSON of a verification audit.")
PILOT_NEEDS_BY = ("pilot is an EmbeddingSet but by=None: say which attribute defines the groups. Fix: pass "
                  "e.g. by='ethnicity' ('fairaudit plan --by ethnicity'); the reference group is then "
                  "reference= (--reference), or the largest group.")
UNKNOWN_REFERENCE = ("reference={value!r} is not a group of the pilot; its groups are {labels}. Fix: pass one "
                     "of them.")
PILOT_TOO_SMALL = ("the pilot's reference group {label!r} has {n} identities with at least 2 samples; "
                   "calibrating needs at least 2. Fix: choose a larger group or a larger pilot.")


def _spec_from_moments(base: synthetic.GroupSpec, genuine: float, impostor: float,
                       **extra: float) -> synthetic.GroupSpec:
    genuine = min(max(genuine, 1e-3), 1 - 1e-6)
    sw2 = 1.0 / genuine - 1.0
    s = min(max(impostor * (1.0 + sw2), 0.0), 0.99)
    return replace(base, intra_spread=math.sqrt(sw2), identity_similarity=s, **extra)


def _log_spread(g: np.ndarray) -> np.ndarray:
    """``log sigma_i`` of identities whose mean genuine score is ``g`` (``g = 1 / (1 + sigma_i**2)``)."""
    return 0.5 * np.log(1 / np.clip(g, 1e-3, 1 - 1e-6) - 1)


def _noise_var(spec: synthetic.GroupSpec, n: int, k: int, rng: np.random.Generator) -> float:
    preset = synthetic.Preset(name="pilot", attributes=("group",), groups=(replace(spec, values={"group": "R"}),),
                              description="noise of the identity-jitter estimate", gender_attribute=None)
    es = synthetic.population(preset, n_identities=max(n, 200), samples_per_identity=k, dim=128,
                              random_state=rng)
    x = np.asarray(es.embeddings).reshape(max(n, 200), k, -1)
    upper = np.triu_indices(k, 1)
    g = np.einsum("nid,njd->nij", x, x)[:, upper[0], upper[1]].mean(axis=1)
    return float(np.var(_log_spread(g)))


def load_pilot(pilot: Any) -> Any:
    """An EmbeddingSet or VerificationResult from one of them or a path."""
    from fairaudit.verification import VerificationResult

    if isinstance(pilot, (EmbeddingSet, VerificationResult)):
        return pilot
    if isinstance(pilot, (str, Path)) and Path(pilot).suffix.lower() == ".json":
        return VerificationResult.from_json(Path(pilot))
    if isinstance(pilot, (str, Path)) and Path(pilot).suffix.lower() in (".npz", ".parquet"):
        return EmbeddingSet.load(pilot)
    raise FairauditInputError(BAD_PILOT.format(value=pilot))


def reference_spec(base: synthetic.GroupSpec, pilot: Any, *, by: Any, reference: Any,
                   rng: np.random.Generator) -> tuple[synthetic.GroupSpec, dict]:
    """The reference group's planted parameters calibrated on ``pilot``, and what they came from."""
    pilot = load_pilot(pilot)
    if isinstance(pilot, EmbeddingSet):
        return _from_embeddings(base, pilot, by=by, reference=reference, rng=rng)
    return _from_result(base, pilot, reference=reference)


def _from_result(base: synthetic.GroupSpec, result: Any, *, reference: Any) -> tuple[synthetic.GroupSpec, dict]:
    h = result.histograms
    labels = [str(g) for g in dict.fromkeys(h["group"]) if g != "all"]
    if reference is None:
        reference = str(result.by_group.sort_values("n_identities").iloc[-1]["label"])
    if str(reference) not in labels:
        raise FairauditInputError(UNKNOWN_REFERENCE.format(value=reference, labels=labels))
    mine = h[h["group"].astype(str) == str(reference)]
    means, variances = {}, {}
    for kind in ("genuine", "impostor"):
        part = mine[mine["kind"] == kind]
        mid = (part["bin_left"] + part["bin_right"]) / 2
        w = part["count"] / part["count"].sum()
        means[kind] = float((mid * w).sum())
        variances[kind] = float((w * (mid - means[kind]) ** 2).sum())
    spec = _spec_from_moments(base, means["genuine"], means["impostor"])
    return spec, {"source": "VerificationResult", "reference": str(reference), "genuine_mean": means["genuine"],
                  "impostor_mean": means["impostor"], "impostor_var": variances["impostor"]}


def _from_embeddings(base: synthetic.GroupSpec, es: EmbeddingSet, *, by: Any, reference: Any,
                     rng: np.random.Generator) -> tuple[synthetic.GroupSpec, dict]:
    if by is None:
        raise FairauditInputError(PILOT_NEEDS_BY)
    names = normalize_by(by, list(es.attributes.columns))
    groups = make_groups({n: es.attributes[n].to_numpy() for n in names}, names)
    labels = [str(x) for x in groups.labels]
    codes = np.asarray(groups.codes)
    if reference is None:
        ids_per_group = [len(set(es.identity[codes == g])) for g in range(len(labels))]
        ref = int(np.argmax(ids_per_group))
    elif str(reference) in labels:
        ref = labels.index(str(reference))
    else:
        raise FairauditInputError(UNKNOWN_REFERENCE.format(value=reference, labels=labels))
    rows = np.flatnonzero(codes == ref)
    x = np.asarray(es.embeddings[rows], dtype=np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ident = np.asarray(es.identity)[rows]
    per_identity, sizes = [], []
    for name in dict.fromkeys(ident):
        xi = x[ident == name]
        if len(xi) >= 2:
            s = xi @ xi.T
            per_identity.append(s[np.triu_indices(len(xi), 1)].mean())
            sizes.append(len(xi))
    if len(per_identity) < 2:
        raise FairauditInputError(PILOT_TOO_SMALL.format(label=labels[ref], n=len(per_identity)))
    g = np.clip(np.asarray(per_identity), 1e-3, 1 - 1e-6)
    pick = rng.choice(len(x), size=(min(20000, len(x) ** 2), 2))
    keep = ident[pick[:, 0]] != ident[pick[:, 1]]
    impostor_scores = np.einsum("ij,ij->i", x[pick[keep, 0]], x[pick[keep, 1]])
    impostor = float(impostor_scores.mean())
    # sigma_i = sigma_w exp(tau xi - tau^2/2): log sigma_i has variance tau^2, plus the sampling noise of
    # a mean of a few genuine scores, measured on the same design simulated without identity jitter
    spec = _spec_from_moments(base, float(g.mean()), impostor, identity_jitter=0.0)
    observed = float(np.var(_log_spread(g)))
    tau = float(np.clip(math.sqrt(max(observed - _noise_var(spec, len(g), int(np.median(sizes)), rng), 0.0)), 0, 2))
    spec = replace(spec, identity_jitter=tau)
    return spec, {"source": "EmbeddingSet", "reference": labels[ref], "genuine_mean": float(g.mean()),
                  "impostor_mean": impostor, "impostor_var": float(impostor_scores.var()), "identity_jitter": tau, "n_identities": len(per_identity)}
