"""Sample-size planning: the simulated power, its detection test, the search, the pilot and the CLI."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from functools import partial

import numpy as np
import pytest
from scipy.stats import norm

import fairaudit
from fairaudit.cli.commands import main
from fairaudit.common.errors import FairauditInputError
from fairaudit.data import synthetic
from fairaudit.planning import (PlanResult, audit_permutation_test, calibrate, identity_permutation_test, plan_sample_size,
                                simulate_power)
from fairaudit.planning import detection, plan, pilot, simulation

BASE = synthetic.PRESETS["balanced"].groups[0]
FAST = dict(dim=32, n_sim=12, n_permutations=49, min_identities=8, max_identities=64, tolerance=0.3)


def _calibrate(spec=BASE, *, ratio=1.5, metric="fnmr", k=5, fmr=1e-2):
    return calibrate(spec, metric=metric, ratio=ratio, fmr=fmr, samples_per_identity=k, dim=32,
                     context_similarity=0.75, max_calibration_samples=20000, seed=3, genuine_pairs=4000)


@pytest.fixture(scope="module")
def scenario():
    return _calibrate()


@pytest.fixture(scope="module")
def fast_plan():
    return plan_sample_size(ratio=2.0, random_state=1, **FAST)


def test_calibration_plants_the_ratio_at_the_target_fmr(scenario):
    assert scenario.compared_rate / scenario.reference_rate == pytest.approx(1.5, rel=0.05)
    # the threshold gives the reference group the target FMR on a fresh draw too
    rng = np.random.default_rng(9)
    es = synthetic.population(scenario.preset, n_identities={"R": 300, "C": 0}, samples_per_identity=5, dim=32,
                              random_state=rng)
    x = np.asarray(es.embeddings, dtype=np.float32)
    errors, trials = simulation.impostor_counts(x, np.repeat(np.arange(300), 5), scenario.threshold)
    assert errors.sum() / trials.sum() == pytest.approx(1e-2, rel=0.2)


def test_impostor_and_genuine_counts_match_brute_force():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((12, 6)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    owner = np.repeat(np.arange(4), 3)
    s = x @ x.T
    errors, trials = simulation.impostor_counts(x, owner, 0.1)
    brute = [sum(s[i, j] >= 0.1 for i in range(12) for j in range(12) if owner[i] == a and owner[j] != a)
             for a in range(4)]
    assert errors.tolist() == brute and trials.tolist() == [27.0] * 4
    e, t = simulation.genuine_counts(x, 3, 0.1)
    assert e.tolist() == [sum(s[i, j] < 0.1 for i, j in itertools.combinations(range(3 * a, 3 * a + 3), 2))
                          for a in range(4)]
    assert t.tolist() == [3.0] * 4


def test_permutation_p_value_matches_exhaustive_enumeration():
    errors = np.array([0, 1, 0, 3, 2, 4, 1.0])
    trials = np.array([6, 6, 6, 6, 6, 6, 6.0])
    in_c = np.array([0, 0, 0, 1, 1, 1, 0], dtype=bool)
    observed = abs(detection.rate_difference(errors, trials, in_c)[0])
    assignments = [np.isin(np.arange(7), c) for c in itertools.combinations(range(7), 3)]
    exact = np.mean([abs(detection.rate_difference(errors, trials, a)[0]) >= observed - 1e-12 for a in assignments])
    p = identity_permutation_test(errors, trials, in_c, rng=np.random.default_rng(0), n_permutations=20000)
    assert p == pytest.approx(exact, abs=0.01)


def test_the_self_contained_test_agrees_with_the_audits_for_fnmr(scenario):
    (errors, trials, in_c, study), = scenario.draw(20, 5, 1, np.random.default_rng(4))
    mine = identity_permutation_test(errors, trials, in_c, rng=np.random.default_rng(0), n_permutations=4000)
    audit = audit_permutation_test(errors, trials, in_c, rng=np.random.default_rng(1), n_permutations=4000, **study)
    assert 0.002 < audit < 0.9 and mine == pytest.approx(audit, abs=0.03)


def test_fmr_studies_count_every_identity_pair_like_brute_force():
    sc = _calibrate(metric="fmr", ratio=3.0, fmr=1e-2)
    (errors, trials, in_c, study), = sc.draw(6, 3, 1, np.random.default_rng(0))
    es = synthetic.population(sc.preset, n_identities=6, samples_per_identity=3, dim=32,
                              random_state=np.random.default_rng(0))
    x = np.asarray(es.embeddings, dtype=np.float32)
    owner = np.repeat(np.arange(12), 3)
    s = x @ x.T
    brute = {(a, b): int(((s[owner == a][:, owner == b]) >= sc.threshold).sum())
             for a in range(12) for b in range(a + 1, 12)}
    a, b, c = study["pairs"]
    assert {(int(i), int(j)): int(n) for i, j, n in zip(a, b, c)} == {k: v for k, v in brute.items() if v}
    within = [sum(v for (i, j), v in brute.items() if u in (i, j) and in_c[i] == in_c[j]) for u in range(12)]
    assert errors.tolist() == within and trials.tolist() == [45.0] * 12


def test_the_self_contained_test_refuses_fmr():
    with pytest.raises(FairauditInputError) as e:
        identity_permutation_test(np.ones(4), np.ones(4), np.array([0, 0, 1, 1], bool), rng=np.random.default_rng(0),
                                  pairs=(np.zeros(0), np.zeros(0), np.zeros(0)))
    assert str(e.value) == detection.FNMR_ONLY


def test_power_increases_with_identities(scenario):
    powers = [simulate_power(scenario, n, 5, n_sim=30, alpha=0.05, seed=[0, n],
                             test=partial(audit_permutation_test, n_permutations=49))
              for n in (5, 20, 80)]
    assert powers[0] < powers[1] < powers[2] and powers[2] >= 24


@pytest.mark.parametrize("metric", ["fnmr", "fmr"])
def test_a_planted_ratio_of_one_rejects_at_about_alpha(scenario, metric):
    # FMR: the groups share their context (exchangeable identities); with distinct contexts the
    # cross-group impostor pairs score lower and the permutation test is anti-conservative (about 0.13)
    base = scenario if metric == "fnmr" else _calibrate(metric="fmr", fmr=1e-2)
    rho = 0.75 if metric == "fnmr" else 0.999
    same = replace(base, preset=simulation.two_group_preset(BASE, BASE, context_similarity=rho))
    hits = simulate_power(same, 30, 5, n_sim=300, alpha=0.05, seed=11,
                          test=partial(audit_permutation_test, n_permutations=99))
    assert 5 <= hits <= 27  # 300 x 0.05 = 15 expected; a binomial 99.9 % range


def test_power_matches_the_two_proportion_formula_for_independent_pairs():
    # two samples and no jitter: one genuine pair per identity, independent across identities (design
    # effect 1), so each group's errors are binomial and the normal-approximation formula applies
    spec = replace(BASE, identity_jitter=0.0, sample_jitter=0.0)
    sc = _calibrate(spec, k=2)
    p0, p1, n = sc.reference_rate, sc.compared_rate, 200
    pbar = (p0 + p1) / 2
    # a permutation test of binary outcomes is Fisher's exact test: the continuity-corrected formula
    # (Fleiss, Tytun and Ury 1980) approximates its power; without the correction it is about 0.05 higher
    diff = abs(p1 - p0) - 1 / n
    expected = norm.cdf((diff * np.sqrt(n) - norm.ppf(0.975) * np.sqrt(2 * pbar * (1 - pbar)))
                        / np.sqrt(p0 * (1 - p0) + p1 * (1 - p1)))
    hits = simulate_power(sc, n, 2, n_sim=300, alpha=0.05, seed=5,
                          test=partial(audit_permutation_test, n_permutations=99))
    assert 0.3 < expected < 0.9
    assert hits / 300 == pytest.approx(expected, abs=0.09)  # about 3 Monte-Carlo standard errors


def test_fmr_ratio_is_planted_and_detected():
    sc = _calibrate(metric="fmr", ratio=3.0, fmr=1e-3)
    assert sc.compared_rate / sc.reference_rate == pytest.approx(3.0, rel=0.15)
    hits = simulate_power(sc, 60, 5, n_sim=10, alpha=0.05, seed=2,
                          test=partial(audit_permutation_test, n_permutations=49))
    assert hits >= 8


def test_plan_searches_to_the_smallest_design_reaching_the_power(fast_plan):
    table = fast_plan.power
    assert list(table.columns) == ["n_identities", "samples_per_identity", "n_sim", "rejections", "power",
                                   "power_ci_low", "power_ci_high", "reached"]
    assert fast_plan.reached
    reached = table[table["reached"]]
    assert fast_plan.n_identities == reached["n_identities"].min()
    assert (table["power_ci_low"] <= table["power"]).all() and (table["power"] <= table["power_ci_high"]).all()
    assert "Recommended: " in fast_plan.summary()


def test_plan_is_deterministic_and_round_trips_through_json(fast_plan, tmp_path):
    again = plan_sample_size(ratio=2.0, random_state=1, **FAST)
    assert again.power.equals(fast_plan.power)
    back = PlanResult.from_json(fast_plan.to_json(tmp_path / "plan.json"))
    assert back.power.equals(fast_plan.power) and back.recommendation.equals(fast_plan.recommendation)
    assert (back.n_identities, back.calibration, back.params) == (fast_plan.n_identities, fast_plan.calibration,
                                                                  fast_plan.params)
    assert fairaudit.plan_sample_size is plan_sample_size and fairaudit.PlanResult is PlanResult


def test_search_that_hits_the_maximum_says_so():
    messages = []
    r = plan_sample_size(ratio=1.3, random_state=0, progress=messages.append, **{**FAST, "max_identities": 16})
    assert not r.reached and r.n_identities in (8, 16)
    assert len(messages) == 3 and messages[-1].startswith("16 identities x 5 samples: power ")
    assert r.notes == [plan.NOT_REACHED.format(power=0.8, high=16, k=5, best=r.n_identities,
                                               best_power=r.recommendation["power"].iloc[0])]
    assert "Power NOT reached" in r.summary()


@pytest.mark.parametrize("kwargs, message", [
    ({"ratio": 1.0}, plan.BAD_RATIO.format(value=1.0)),
    ({"ratio": 0.5}, plan.BAD_RATIO.format(value=0.5)),
    ({"ratio": 2, "power": 1.0}, plan.BAD_PROBABILITY.format(name="power", value=1.0, example="0.8")),
    ({"ratio": 2, "alpha": 0}, plan.BAD_PROBABILITY.format(name="alpha", value=0, example="0.05")),
    ({"ratio": 2, "metric": "eer"}, plan.BAD_METRIC.format(value="eer")),
    ({"ratio": 2, "samples_per_identity": 1},
     plan.BAD_COUNT.format(name="samples_per_identity", value=1, minimum=2, example=5)),
    ({"ratio": 2, "min_identities": 50, "max_identities": 20}, plan.BAD_SEARCH.format(low=50, high=20)),
    ({"ratio": 2, "test": 3}, plan.BAD_TEST.format(value=3)),
    ({"ratio": 2, "max_calibration_samples": 10},
     plan.BAD_COUNT.format(name="max_calibration_samples", value=10, minimum=100, example=20000)),
    ({"ratio": 2, "fmr": 1e-9}, simulation.UNSUPPORTED_FMR.format(
        value=1e-9, pairs=2e11, limit=20000, limit_pairs=2e8, needed=632461)),
    ({"ratio": 20, "fmr": 1e-3, "dim": 32}, None),
])
def test_impossible_requests_are_refused(kwargs, message):
    with pytest.raises(FairauditInputError) as info:
        plan_sample_size(**kwargs)
    if message is not None:
        assert str(info.value) == message
    else:  # a reference FNMR of about 0.1 cannot be multiplied by 20
        assert str(info.value).startswith("ratio=20.0 of FNMR cannot be planted: ")


def test_pilot_embedding_set_recovers_the_planted_parameters():
    es = synthetic.population("balanced", n_identities=100, samples_per_identity=4, dim=64, random_state=0,
                              identity_jitter=0.5)
    spec, info = pilot.reference_spec(BASE, es, by="ethnicity", reference="B", rng=np.random.default_rng(0))
    assert info["reference"] == "B" and info["source"] == "EmbeddingSet"
    assert spec.intra_spread == pytest.approx(0.8, rel=0.15)
    assert spec.identity_similarity == pytest.approx(0.28, abs=0.06)
    assert spec.identity_jitter == pytest.approx(0.5, abs=0.15)
    dim = simulation.effective_dim(spec, info["impostor_var"], context_similarity=0.75, seed=0)
    assert dim == pytest.approx(64, rel=0.2)
    with pytest.raises(FairauditInputError) as e:
        pilot.reference_spec(BASE, es, by="ethnicity", reference="Z", rng=np.random.default_rng(0))
    assert str(e.value) == pilot.UNKNOWN_REFERENCE.format(value="Z", labels=["A", "B", "N"])


def test_pilot_verification_result_gives_spread_similarity_and_dimension(tmp_path):
    es = synthetic.population("balanced", n_identities=60, samples_per_identity=4, dim=64, random_state=0)
    result = fairaudit.verification_audit(es, by="ethnicity", threshold="eer", n_boot=0)
    result.to_json(tmp_path / "pilot.json")
    spec, info = pilot.reference_spec(BASE, tmp_path / "pilot.json", by=None, reference=None,
                                      rng=np.random.default_rng(0))
    assert info["source"] == "VerificationResult" and info["reference"] in ("A", "B", "N")
    assert spec.intra_spread == pytest.approx(0.8, rel=0.1)
    assert spec.identity_similarity == pytest.approx(0.28, abs=0.06)
    assert simulation.effective_dim(spec, info["impostor_var"], context_similarity=0.75, seed=0) == pytest.approx(
        64, rel=0.2)
    with pytest.raises(FairauditInputError) as e:
        pilot.reference_spec(BASE, tmp_path / "pilot.txt", by=None, reference=None, rng=np.random.default_rng(0))
    assert str(e.value) == pilot.BAD_PILOT.format(value=tmp_path / "pilot.txt")


def test_cli_plan_writes_json_that_round_trips(tmp_path, capsys):
    out = tmp_path / "plan.json"
    code = main(["plan", "--ratio", "2", "--fmr", "1e-2", "--n-sim", "6", "--max-identities", "32",
                 "--samples", "4", "--dim", "32", "--seed", "2", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    back = PlanResult.from_json(out)
    assert back.params["ratio"] == 2.0 and back.params["samples_per_identity"] == [4]
    assert f"{back.n_identities} identities per group x 4 samples" in text
    assert json.loads(out.read_text())["kind"] == "plan"
    assert main(["plan", "--ratio", "0.5"]) == 2
    assert plan.BAD_RATIO.format(value=0.5) in capsys.readouterr().err
