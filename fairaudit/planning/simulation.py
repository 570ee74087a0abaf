"""The simulated study behind a sample-size plan: two groups drawn with :mod:`fairaudit.synthetic`.

A *reference* group ``R`` and a *compared* group ``C`` share every planted parameter but one: ``C``'s
``intra_spread`` (for an FNMR ratio) or ``identity_similarity`` (for an FMR ratio) is tuned so that
``C``'s rate at the operating threshold is ``ratio`` times ``R``'s. The operating threshold is the one at
which ``R``'s impostor FMR is the target (e.g. 1e-3), measured once on a large calibration draw and then
kept fixed in every simulated study, as the library keeps a threshold fixed in its permutation tests.

Each simulated study yields per-identity error counts (``errors``, ``trials``) and a boolean ``in_compared``
per identity; the detection test turns them into a p-value (:mod:`fairaudit.planning.detection`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from fairaudit.common.errors import FairauditInputError
from fairaudit.data import synthetic

UNSUPPORTED_FMR = (
    "fmr={value!r} needs about {pairs:.3g} impostor pairs to place the operating threshold, more than a "
    "simulated population of at most {limit} samples gives ({limit_pairs:.3g} pairs). Fix: plan at a "
    "larger target FMR (e.g. 1e-4), or pass max_calibration_samples={needed} or more "
    "('fairaudit plan --max-calibration-samples {needed}'; slow)."
)
NO_ERRORS_AT_THRESHOLD = (
    "the reference group's FNMR at the threshold of fmr={fmr!r} is {rate!r} in the calibration draw "
    "({n} genuine pairs): a ratio of FNMRs is not defined there. Fix: plan at a smaller target FMR, or "
    "calibrate on a pilot with a wider genuine-score spread."
)
CANNOT_PLANT = (
    "ratio={ratio!r} of {metric} cannot be planted: the reference group's {metric} is {rate:.4g}, so the "
    "compared group would need {target:.4g}, {why}. Fix: ask for a smaller ratio or another operating point."
)

#: calibration draws place the threshold with about this many false matches in the reference group
CALIBRATION_FALSE_MATCHES = 200
#: genuine pairs (at least) and identities (at least) of the calibration draw of genuine scores (FNMR)
CALIBRATION_GENUINE_PAIRS = 10000
CALIBRATION_IDENTITIES = 1000
#: halvings of the compared group's parameter range (4.4 wide for intra_spread: about 1e-3 at the end)
BISECTION_STEPS = 12
#: rows of one block of impostor scores (bounds memory: block x n samples float32)
BLOCK_ROWS = 2048


@dataclass(frozen=True)
class Scenario:
    """A calibrated two-group population: the threshold, both groups' specs and their planted rates."""

    preset: synthetic.Preset
    metric: str
    threshold: float
    reference_rate: float
    compared_rate: float
    samples_per_identity: int
    dim: int

    def draw(self, n_identities: int, samples_per_identity: int, n_studies: int, rng: np.random.Generator
             ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``n_studies`` simulated studies: per-identity ``errors``, ``trials`` and ``in_compared`` of each.

        The studies come from one population drawn for all of them (identities are independent draws, so
        study ``j`` takes identities ``j * n ... (j + 1) * n - 1`` of each group): one generator call instead
        of ``n_studies`` keeps the simulation's cost in the arithmetic.
        """
        n, k = n_identities, samples_per_identity
        es = synthetic.population(self.preset, n_identities=n * n_studies, samples_per_identity=k, dim=self.dim,
                                  random_state=rng)
        x = np.asarray(es.embeddings, dtype=np.float32).reshape(2, n_studies, n * k, -1)
        studies = []
        in_c = np.repeat([False, True], n)
        owner = np.repeat(np.arange(2 * n), k)
        for j in range(n_studies):
            if self.metric == "fnmr":
                counts = [genuine_counts(x[g, j], k, self.threshold) for g in (0, 1)]
                studies.append((np.concatenate([counts[0][0], counts[1][0]]),
                                np.concatenate([counts[0][1], counts[1][1]]), in_c, {}))
                continue
            a, b, c = identity_pair_accepts(np.concatenate([x[0, j], x[1, j]]), owner, self.threshold)
            within = in_c[a] == in_c[b]
            errors = (np.bincount(a[within], weights=c[within], minlength=2 * n)
                      + np.bincount(b[within], weights=c[within], minlength=2 * n))
            trials = np.full(2 * n, float(k * k * (n - 1)))
            studies.append((errors, trials, in_c, {"pairs": (a, b, c), "samples": np.full(2 * n, float(k))}))
        return studies


def two_group_preset(base: synthetic.GroupSpec, compared: synthetic.GroupSpec, *,
                     context_similarity: float) -> synthetic.Preset:
    """A preset of the groups ``R`` (``base``) and ``C`` (``compared``), with no gender encoding."""
    specs = [replace(spec, values={"group": name}) for name, spec in (("R", base), ("C", compared))]
    return synthetic.Preset(name="planning", attributes=("group",), groups=tuple(specs),
                            description="reference group R and compared group C of a sample-size plan",
                            gender_attribute=None, context_similarity=context_similarity)


def genuine_counts(x: np.ndarray, k: int, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per identity (rows come identity by identity, ``k`` each): false non-matches and genuine pairs."""
    blocks = x.reshape(-1, k, x.shape[1])
    scores = np.einsum("nid,njd->nij", blocks, blocks)
    upper = np.triu_indices(k, 1)
    errors = (scores[:, upper[0], upper[1]] < threshold).sum(axis=1).astype(float)
    return errors, np.full(len(blocks), k * (k - 1) / 2)


def impostor_counts(x: np.ndarray, owner: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Per identity: false matches of its samples against every other identity of ``x``, and such pairs.

    Each impostor pair counts once at each of its two identities, so ``errors.sum() / trials.sum()`` is the
    group's FMR over unordered pairs.
    """
    n_ids = int(owner.max()) + 1
    errors = np.zeros(n_ids)
    for start in range(0, len(x), BLOCK_ROWS):
        rows = slice(start, start + BLOCK_ROWS)
        hit = (x[rows] @ x.T) >= threshold
        hit &= owner[rows, None] != owner[None, :]
        errors += np.bincount(owner[rows], weights=hit.sum(axis=1), minlength=n_ids)
    sizes = np.bincount(owner, minlength=n_ids)
    return errors, sizes * (len(x) - sizes).astype(float)


def identity_pair_accepts(x: np.ndarray, owner: np.ndarray, threshold: float
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Impostor accepts of every identity pair ``a < b`` with at least one: ``(a, b, count)``."""
    keys = []
    n_ids = int(owner.max()) + 1
    for start in range(0, len(x), BLOCK_ROWS):
        rows = slice(start, start + BLOCK_ROWS)
        hit = ((x[rows] @ x.T) >= threshold) & (owner[rows, None] < owner[None, :])
        r, c = np.nonzero(hit)
        keys.append(owner[rows][r].astype(np.int64) * n_ids + owner[c])
    key, count = np.unique(np.concatenate(keys), return_counts=True)
    return key // n_ids, key % n_ids, count.astype(float)


def top_impostor_scores(x: np.ndarray, owner: np.ndarray, keep: int) -> tuple[np.ndarray, int]:
    """The ``keep`` highest impostor scores of ``x`` (each unordered pair once) and the number of pairs."""
    best = np.empty(0, dtype=np.float32)
    for start in range(0, len(x), BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, len(x))
        s = x[start:stop] @ x.T
        later = np.arange(len(x))[None, :] > np.arange(start, stop)[:, None]  # each pair once
        s = s[later & (owner[start:stop, None] != owner[None, :])]
        best = np.concatenate([best, s])
        if len(best) > keep:
            best = np.partition(best, len(best) - keep)[-keep:]
    sizes = np.bincount(owner)
    pairs = int((len(x) ** 2 - (sizes**2).sum()) // 2)
    return np.sort(best)[::-1], pairs


def _draw_group(spec: synthetic.GroupSpec, n: int, k: int, dim: int, seed: int,
                context_similarity: float) -> np.ndarray:
    preset = two_group_preset(spec, spec, context_similarity=context_similarity)
    es = synthetic.population(preset, n_identities={"R": n, "C": 0}, samples_per_identity=k, dim=dim,
                              random_state=seed)
    return np.asarray(es.embeddings, dtype=np.float32)


def effective_dim(spec: synthetic.GroupSpec, impostor_var: float, *, context_similarity: float, seed: int) -> int:
    """The embedding dimension at which ``spec``'s same-group impostor scores have variance ``impostor_var``.

    The impostor spread, which places the threshold of a target FMR, shrinks as ``1 / dim`` in the
    generative model: measured once at dimension 128, it gives the dimension that matches a pilot.
    """
    x = _draw_group(spec, 300, 2, 128, seed, context_similarity)
    owner = np.repeat(np.arange(300), 2)
    s = x @ x.T
    v128 = float(s[owner[:, None] < owner[None, :]].var())
    low = len(two_group_preset(spec, spec, context_similarity=context_similarity).contexts) + 3 + 8
    return int(np.clip(round(128 * v128 / max(impostor_var, 1e-12)), max(low, 16), 2048))


def calibrate(base: synthetic.GroupSpec, *, metric: str, ratio: float, fmr: float, samples_per_identity: int,
              dim: int, context_similarity: float, max_calibration_samples: int, seed: int,
              genuine_pairs: int = CALIBRATION_GENUINE_PAIRS) -> Scenario:
    """Place the threshold and tune the compared group so that its rate is ``ratio`` times the reference's.

    The threshold leaves at most ``floor(fmr * pairs)`` of the reference group's calibration impostor pairs
    at or above it (the lowest such threshold), from a draw with about 200 false matches. The compared
    group's parameter is then bisected, on one fixed draw of at least ``genuine_pairs`` genuine pairs (FNMR)
    or about 200 false matches (FMR), until its rate is ``ratio`` times the reference's.
    """
    k = samples_per_identity
    needed_pairs = CALIBRATION_FALSE_MATCHES / fmr
    n_samples = max(math.ceil(math.sqrt(2 * needed_pairs)) + k, 200 * k)
    if n_samples > max_calibration_samples:
        raise FairauditInputError(UNSUPPORTED_FMR.format(
            value=fmr, pairs=needed_pairs, limit=max_calibration_samples,
            limit_pairs=max_calibration_samples**2 / 2, needed=n_samples))
    n_ids = math.ceil(n_samples / k)
    x = _draw_group(base, n_ids, k, dim, seed, context_similarity)
    owner = np.repeat(np.arange(n_ids), k)
    keep = int(math.floor(fmr * (len(x) ** 2) / 2)) + 2
    top, pairs = top_impostor_scores(x, owner, keep)
    m = int(math.floor(fmr * pairs))  # at most m pairs may score >= threshold
    threshold = float(np.nextafter(top[m], np.float32(np.inf)))
    ref_fmr = float((top >= threshold).sum() / pairs)

    if metric == "fnmr":
        n_gen_ids = max(CALIBRATION_IDENTITIES, math.ceil(genuine_pairs / (k * (k - 1) / 2)))

        def rate(spec: synthetic.GroupSpec) -> float:
            g = _draw_group(spec, n_gen_ids, k, dim, seed + 1, context_similarity)
            e, t = genuine_counts(g, k, threshold)
            return float(e.sum() / t.sum())

        reference = rate(base)
        n_genuine = n_gen_ids * k * (k - 1) // 2
        if reference <= 0 or reference >= 1:
            raise FairauditInputError(NO_ERRORS_AT_THRESHOLD.format(fmr=fmr, rate=reference, n=n_genuine))
        target = ratio * reference
        if target >= 1:
            raise FairauditInputError(CANNOT_PLANT.format(ratio=ratio, metric="FNMR", rate=reference, target=target,
                                                          why="a rate of 1 or more"))
        name, lo, hi = "intra_spread", base.intra_spread, 4 * base.intra_spread + 2.0
    else:
        reference = ref_fmr
        target = ratio * reference
        if target >= 0.5:
            raise FairauditInputError(CANNOT_PLANT.format(ratio=ratio, metric="FMR", rate=reference, target=target,
                                                          why="more than the planning model supports (0.5)"))
        n_c = math.ceil((math.sqrt(2 * CALIBRATION_FALSE_MATCHES / target) + k) / k) + 50

        def rate(spec: synthetic.GroupSpec) -> float:
            g = _draw_group(spec, n_c, k, dim, seed + 1, context_similarity)
            e, t = impostor_counts(g, np.repeat(np.arange(n_c), k), threshold)
            return float(e.sum() / t.sum())

        name, lo, hi = "identity_similarity", base.identity_similarity, 0.995
    # bisection with the same draw at every step (common random numbers keep the rate monotone)
    if rate(replace(base, **{name: hi})) < target:
        raise FairauditInputError(CANNOT_PLANT.format(ratio=ratio, metric=metric.upper(), rate=reference,
                                                      target=target, why=f"beyond {name}={hi:g}"))
    for _ in range(BISECTION_STEPS):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if rate(replace(base, **{name: mid})) < target else (lo, mid)
    compared = replace(base, **{name: hi})
    return Scenario(preset=two_group_preset(base, compared, context_similarity=context_similarity), metric=metric,
                    threshold=threshold, reference_rate=reference, compared_rate=rate(compared),
                    samples_per_identity=k, dim=dim)
