"""The EER tie rule of ``fairaudit.verification.rates`` (bob.measure's ``eer_threshold``), checked on
score sets with exact ties against the brute force of tests/test_verification.py."""

import numpy as np
import pytest

import fairaudit
from fairaudit.verification import rates
from fairaudit.verification.grid import DEFAULT_BIN_WIDTH as W
from tests.test_verification import brute_eer_on


def _audit_eer(gen, imp):
    """EER and EER threshold of one group, through the public audit of a ScoreSet."""
    gen, imp = np.round(np.asarray(gen) / W) * W, np.round(np.asarray(imp) / W) * W
    ida = ["g0"] * len(gen) + [f"i{k}" for k in range(len(imp))]
    idb = ["g0"] * len(gen) + [f"j{k}" for k in range(len(imp))]
    ss = fairaudit.ScoreSet.from_arrays(np.r_[gen, imp], identity_a=ida, identity_b=idb,
                                        attributes_a={"g": ["x"] * len(ida)}, attributes_b={"g": ["x"] * len(ida)})
    res = fairaudit.verification_audit(ss, by="g", n_boot=0)
    return res.overall["eer"], res.overall["eer_threshold"], gen, imp


def _candidates(gen, imp):
    """Grid edges from below every score to above every score."""
    return np.arange(-1.0, 1.0 + W, W)


def test_eer_takes_the_highest_of_two_tied_thresholds():
    # |FMR - FNMR| = 1/4 just above 0.3 (FMR 1/4, FNMR 0) and just above 0.4 (FMR 1/4, FNMR 1/2)
    eer, thr, gen, imp = _audit_eer([0.4, 0.6], [0.1, 0.2, 0.3, 0.5])
    assert eer == 0.375  # bob.measure.eer gives 0.375; the lowest tie would give 0.125
    assert thr == pytest.approx(0.4 + W, abs=W / 2)  # the lowest edge above the genuine score 0.4
    assert (eer, thr) == pytest.approx(brute_eer_on(imp, gen, _candidates(gen, imp)))


def test_eer_keeps_an_earlier_tie_over_the_point_where_all_impostors_are_rejected():
    # ties at 1/2: (FMR 1, FNMR 1/2) and, once every impostor is rejected, (FMR 0, FNMR 1/2)
    eer, thr, gen, imp = _audit_eer([0.2, 0.7], [0.5, 0.5])
    assert eer == 0.75  # bob.measure.eer gives 0.75
    assert (eer, thr) == pytest.approx(brute_eer_on(imp, gen, _candidates(gen, imp)))


@pytest.mark.parametrize("seed", range(6))
def test_eer_matches_the_brute_force_on_tie_heavy_scores(seed):
    rng = np.random.default_rng(seed)
    gen = rng.choice(np.linspace(0.0, 0.6, 4), size=rng.integers(2, 9))
    imp = rng.choice(np.linspace(0.0, 0.6, 4), size=rng.integers(2, 13))
    eer, thr, gen, imp = _audit_eer(gen, imp)
    want_eer, want_thr = brute_eer_on(imp, gen, _candidates(gen, imp))
    assert eer == pytest.approx(want_eer, abs=0)
    assert thr == pytest.approx(want_thr, abs=1e-12)


def test_eer_index_compares_counts_exactly():
    # |2/3 - 1/4| and |1/3 - 3/4| tie exactly; in floats the first is one ulp smaller
    fmr = np.array([1.0, 2 / 3, 1 / 3, 0.0])
    fnmr = np.array([0.0, 1 / 4, 3 / 4, 3 / 4])
    assert abs(fmr[1] - fnmr[1]) < abs(fmr[2] - fnmr[2])
    assert rates.eer_index(fmr, fnmr, n_impostor=3, n_genuine=4) == 2  # exact: the highest tie
    assert rates.eer_index(fmr, fnmr) == 1  # without counts: compared in floats


def test_eer_index_keeps_the_live_tie_over_the_exhausted_point():
    # 1/3 at the last live edge ties with 1/3 where every impostor is rejected: the live edge stays
    fmr = np.array([1.0, 2 / 3, 2 / 3, 0.0])
    fnmr = np.array([0.0, 0.0, 1 / 3, 1 / 3])
    assert rates.eer_index(fmr, fnmr, n_impostor=3, n_genuine=3) == 2
