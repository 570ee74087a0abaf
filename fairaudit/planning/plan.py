"""``plan_sample_size``: identities per group needed to detect an FNMR or FMR ratio, by simulation."""

from __future__ import annotations

import math
import numbers
import sys
import time
from functools import partial
from typing import Any, Callable

import numpy as np
import pandas as pd

from fairaudit.common.errors import FairauditInputError
from fairaudit.common.provenance import provenance
from fairaudit.common.seeds import resolve_rng
from fairaudit.data import synthetic
from fairaudit.planning.detection import N_PERMUTATIONS, audit_permutation_test
from fairaudit.planning.pilot import reference_spec
from fairaudit.planning.result import PlanResult
from fairaudit.planning.simulation import Scenario, calibrate, effective_dim

BAD_RATIO = ("ratio={value!r} must be a number > 1: the compared group's rate over the reference group's. "
             "Fix: pass e.g. ratio=2 (a ratio below 1 is the same question with the groups swapped).")
BAD_METRIC = "metric={value!r} must be 'fnmr' or 'fmr'. Fix: pass one of them."
BAD_PROBABILITY = "{name}={value!r} must be a number strictly between 0 and 1. Fix: pass e.g. {name}={example}."
BAD_COUNT = "{name}={value!r} must be an integer >= {minimum}. Fix: pass e.g. {name}={example}."
BAD_SEARCH = ("min_identities={low!r} is larger than max_identities={high!r}. Fix: pass "
              "min_identities <= max_identities.")
BAD_TEST = ("test={value!r} must be a callable test(errors, trials, in_compared, *, rng, pairs=None, samples=None) "
            "-> p-value. Fix: pass such a function or None (the audit's identity permutation test).")
#: identities drawn by one call of the generator when simulating studies (bounds memory)
STUDY_BATCH_IDENTITIES = 20000

NOT_REACHED = ("The target power {power:g} was not reached with up to max_identities={high} identities per group "
               "and {k} samples per identity: the best found is {best} identities (power {best_power:.3f}). "
               "Raise max_identities or samples_per_identity, or plan for a larger ratio.")


def _probability(name: str, value: Any, example: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 < float(value) < 1:
        raise FairauditInputError(BAD_PROBABILITY.format(name=name, value=value, example=example))
    return float(value)


def _count(name: str, value: Any, minimum: int, example: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or int(value) < minimum:
        raise FairauditInputError(BAD_COUNT.format(name=name, value=value, minimum=minimum, example=example))
    return int(value)


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of ``k`` successes in ``n`` trials."""
    from scipy.stats import beta

    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


def simulate_power(scenario: Scenario, n_identities: int, samples_per_identity: int, *, n_sim: int,
                   alpha: float, test: Callable[..., float], seed: Any) -> int:
    """Rejections at ``alpha`` among ``n_sim`` simulated studies of one design (deterministic in ``seed``)."""
    draw_seed, test_seed = np.random.SeedSequence(seed).spawn(2)
    draw_rng = np.random.default_rng(draw_seed)
    test_rngs = [np.random.default_rng(s) for s in test_seed.spawn(n_sim)]
    per_draw = max(1, STUDY_BATCH_IDENTITIES // (2 * n_identities))  # studies drawn by one generator call
    rejections, done = 0, 0
    while done < n_sim:
        batch = min(per_draw, n_sim - done)
        for errors, trials, in_c, study in scenario.draw(n_identities, samples_per_identity, batch, draw_rng):
            rejections += bool(test(errors, trials, in_c, rng=test_rngs[done], **study) <= alpha)  # NaN: no
            done += 1
    return int(rejections)


def _reporter(progress: Any) -> Callable[[str], None]:
    if callable(progress):
        return progress
    if progress:
        return lambda message: print(message, file=sys.stderr, flush=True)
    return lambda message: None


def plan_sample_size(
    pilot: Any = None,
    *,
    ratio: float,
    metric: str = "fnmr",
    fmr: float = 1e-3,
    power: float = 0.8,
    alpha: float = 0.05,
    samples_per_identity: int | list[int] = 5,
    preset: str | synthetic.Preset = "balanced",
    by: Any = None,
    reference: Any = None,
    n_sim: int = 200,
    n_permutations: int = N_PERMUTATIONS,
    min_identities: int = 10,
    max_identities: int = 2000,
    tolerance: float = 0.1,
    dim: int | None = None,
    max_calibration_samples: int = 20000,
    test: Callable[..., float] | None = None,
    random_state: int | np.random.Generator | None = 0,
    progress: bool | Callable[[str], None] = False,
) -> PlanResult:
    """How many identities per group are needed to detect an FNMR or FMR ratio between two groups.

    Two groups are simulated with :func:`fairaudit.synthetic.population`: a reference group (the first
    group of ``preset``, or calibrated on ``pilot``) and a compared group whose FNMR (``metric="fnmr"``,
    through its ``intra_spread``) or FMR (through its ``identity_similarity``) is ``ratio`` times the
    reference's at the threshold where the reference FMR is ``fmr``. For each design, ``n_sim`` studies are
    drawn and tested (``test``, by default the identity-level permutation test the verification audit
    reports in ``VerificationResult.comparisons``, before Holm's adjustment); the power
    is the fraction that reject at ``alpha``. The number of identities per group is doubled from
    ``min_identities`` until the power is reached, then bisected to within ``tolerance`` (relative).

    Parameters
    ----------
    pilot : EmbeddingSet, VerificationResult, path or None
        Calibrate the reference group on it (see :mod:`fairaudit.planning.pilot`); None: ``preset``.
    ratio : float
        The rate ratio to detect, > 1 (compared over reference).
    metric : {"fnmr", "fmr"}
    fmr : float, default 1e-3
        The operating point: the reference group's FMR at the threshold.
    power, alpha : float
        Target power and significance level, each in (0, 1).
    samples_per_identity : int or list of int, default 5
        Samples of every identity; a list plans for each (the recommendation is the design with the fewest
        samples in total).
    preset : str or Preset, default "balanced"
        Where the reference group's parameters come from without a pilot (its first group).
    by, reference
        With an EmbeddingSet pilot: the group attribute(s) and the reference group's label (default: the
        group with the most identities).
    n_sim : int, default 200
        Simulated studies per design; the power's Monte-Carlo interval is reported.
    n_permutations : int, default 199
        Permutations of the default test.
    min_identities, max_identities : int
        The search range (identities per group).
    tolerance : float, default 0.1
        Relative width at which the bisection stops.
    dim : int or None
        Embedding dimension of the simulation. None: the one whose impostor-score spread matches the pilot's
        (see :func:`~fairaudit.planning.simulation.effective_dim`), or 128 without a pilot.
    max_calibration_samples : int, default 20000
        Largest calibration population placing the threshold (an ``fmr`` needing more is refused).
    test : callable or None
        ``test(errors, trials, in_compared, *, rng, pairs=None, samples=None) -> p_value`` (see
        :mod:`fairaudit.planning.detection`); None: :func:`~fairaudit.planning.detection.audit_permutation_test`.
    random_state : int, Generator or None, default 0
    progress : bool or callable
        Report each design's power (to stderr, or to the callable).

    Returns
    -------
    PlanResult

    Raises
    ------
    FairauditInputError
        On a ratio <= 1, a probability outside (0, 1), bad counts, an ``fmr`` no simulated population can
        support, or a ratio that cannot be planted at this operating point.
    """
    start = time.perf_counter()
    if not isinstance(ratio, numbers.Real) or isinstance(ratio, bool) or not math.isfinite(ratio) or ratio <= 1:
        raise FairauditInputError(BAD_RATIO.format(value=ratio))
    if metric not in ("fnmr", "fmr"):
        raise FairauditInputError(BAD_METRIC.format(value=metric))
    fmr = _probability("fmr", fmr, "1e-3")
    power = _probability("power", power, "0.8")
    alpha = _probability("alpha", alpha, "0.05")
    tolerance = _probability("tolerance", tolerance, "0.1")
    ks = [samples_per_identity] if not isinstance(samples_per_identity, (list, tuple)) else list(samples_per_identity)
    if not ks:
        raise FairauditInputError(BAD_COUNT.format(name="samples_per_identity", value=samples_per_identity,
                                                   minimum=2 if metric == "fnmr" else 1, example=5))
    ks = sorted({_count("samples_per_identity", k, 2 if metric == "fnmr" else 1, 5) for k in ks})
    n_sim = _count("n_sim", n_sim, 1, 200)
    n_permutations = _count("n_permutations", n_permutations, 1, 199)
    low = _count("min_identities", min_identities, 2, 10)
    high = _count("max_identities", max_identities, 2, 2000)
    max_calibration_samples = _count("max_calibration_samples", max_calibration_samples, 100, 20000)
    if low > high:
        raise FairauditInputError(BAD_SEARCH.format(low=low, high=high))
    if test is None:
        test = partial(audit_permutation_test, n_permutations=n_permutations)
    elif not callable(test):
        raise FairauditInputError(BAD_TEST.format(value=test))
    rng = resolve_rng(random_state)
    base_seed = int(rng.integers(0, 2**62))
    report = _reporter(progress)

    p = synthetic._resolve_preset(preset)
    base, pilot_info = p.groups[0], {"source": f"preset {p.name!r}", "reference": p.groups[0].label}
    if pilot is not None:
        base, pilot_info = reference_spec(base, pilot, by=by, reference=reference, rng=rng)
        if dim is None:
            dim = effective_dim(base, pilot_info["impostor_var"], context_similarity=p.context_similarity,
                                seed=base_seed % 2**31)
    dim = 128 if dim is None else _count("dim", dim, 16, 128)
    scenario = calibrate(base, metric=metric, ratio=float(ratio), fmr=fmr, samples_per_identity=ks[0], dim=dim,
                         context_similarity=p.context_similarity, max_calibration_samples=max_calibration_samples,
                         seed=base_seed % 2**31)
    report(f"calibrated: threshold {scenario.threshold:.4f}, reference {metric} {scenario.reference_rate:.4g}, "
           f"compared {scenario.compared_rate:.4g}")

    rows: list[dict] = []
    best_rows, notes = [], []
    for k in ks:
        tried: dict[int, dict] = {}

        def evaluate(n: int) -> bool:
            if n not in tried:
                hits = simulate_power(scenario, n, k, n_sim=n_sim, alpha=alpha, test=test, seed=[base_seed, k, n])
                ci = clopper_pearson(hits, n_sim)
                tried[n] = {"n_identities": n, "samples_per_identity": k, "n_sim": n_sim, "rejections": hits,
                            "power": hits / n_sim, "power_ci_low": ci[0], "power_ci_high": ci[1],
                            "reached": hits / n_sim >= power}
                report(f"{n} identities x {k} samples: power {hits / n_sim:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]")
            return tried[n]["reached"]

        n, failed = low, None
        while not evaluate(n) and n < high:
            failed, n = n, min(2 * n, high)
        if tried[n]["reached"] and failed is not None:
            lo, hi = failed, n  # lo fails, hi reaches
            while hi - lo > max(1, tolerance * hi):
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if evaluate(mid) else (mid, hi)
        rows += tried.values()
        good = [r for r in tried.values() if r["reached"]]
        if good:
            best = min(good, key=lambda r: r["n_identities"])
        else:
            best = max(tried.values(), key=lambda r: (r["power"], -r["n_identities"]))
            notes.append(NOT_REACHED.format(power=power, high=high, k=k, best=best["n_identities"],
                                            best_power=best["power"]))
        best_rows.append({**best, "total_samples": 2 * best["n_identities"] * k})

    table = pd.DataFrame(rows).sort_values(["samples_per_identity", "n_identities"]).reset_index(drop=True)
    recommendation = pd.DataFrame(best_rows).drop(columns=["n_sim", "rejections"]).reset_index(drop=True)
    reached = recommendation[recommendation["reached"]]
    pick = (reached.sort_values(["total_samples", "n_identities"]).iloc[0] if len(reached)
            else recommendation.sort_values("power", ascending=False).iloc[0])
    groups = {name: spec.parameters() for name, spec in zip(("reference", "compared"), scenario.preset.groups)}
    calibration = {"threshold": scenario.threshold, "reference_rate": scenario.reference_rate,
                   "compared_rate": scenario.compared_rate, "groups": groups, "pilot": pilot_info}
    params = {"ratio": float(ratio), "metric": metric, "fmr": fmr, "power": power, "alpha": alpha,
              "samples_per_identity": ks, "preset": p.name, "n_sim": n_sim, "n_permutations": n_permutations,
              "min_identities": low, "max_identities": high, "tolerance": tolerance, "dim": dim, "max_calibration_samples": max_calibration_samples,
              "test": getattr(test, "__name__", None) or getattr(getattr(test, "func", None), "__name__", repr(test)),
              "random_state": random_state if isinstance(random_state, (int, type(None))) else "Generator",
              "base_seed": base_seed}
    return PlanResult(power=table, recommendation=recommendation, n_identities=int(pick["n_identities"]),
                      samples_per_identity=int(pick["samples_per_identity"]), reached=bool(len(reached)),
                      calibration=calibration, params=params,
                      provenance=provenance(elapsed_s=time.perf_counter() - start), notes=notes)
