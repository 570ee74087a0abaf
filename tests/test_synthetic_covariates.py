"""Tests of the covariate presets of fairaudit.synthetic: sample-level quality, age and device with
planted effects on the scores.

As in tests/test_synthetic.py, the oracle tests recompute every rate by brute force (all pairs,
explicit counting, numpy only; the odds ratio by sklearn), not through fairaudit's audits, so that
they check the generator. The threshold is the score where the FMR over all impostor pairs is
1e-3. The margins were measured over 10 seeds at this size (see docs/guide/synthetic.md); the
tests use one fixed seed and wide margins.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import fairaudit
from fairaudit import synthetic
from fairaudit.common.errors import FairauditInputError
from fairaudit.data.synthetic_covariates import CovariateModel

SCENARIOS = ("covariates_explained", "covariates_direct")


class Pairs:
    """Every genuine and impostor pair of a population, scored and labelled by brute force."""

    def __init__(self, es: fairaudit.EmbeddingSet) -> None:
        x = es.embeddings.astype(np.float64)
        i, j = np.triu_indices(len(es), k=1)
        scores = (x @ x.T)[i, j]
        same = es.identity[i] == es.identity[j]
        impostor = scores[~same]
        self.threshold = float(np.quantile(impostor, 1 - 1e-3))
        cov = es.covariates
        q, age, device = (cov[c].to_numpy() for c in ("quality", "age", "device"))
        gi, gj = i[same], j[same]
        self.fnm = scores[same] < self.threshold  # a false non-match
        self.ethnicity = es.column("ethnicity")[gi]
        self.gender = es.column("gender")[gi]
        self.q1, self.q2 = q[gi], q[gj]
        self.q_min = np.minimum(self.q1, self.q2)
        self.age_gap = np.abs(age[gi] - age[gj])
        self.webcam = (device[gi] == "webcam") | (device[gj] == "webcam")
        ii, jj = i[~same], j[~same]
        self.fm = impostor >= self.threshold  # a false match
        self.imp_age_min = np.minimum(age[ii], age[jj])
        self.imp_age_max = np.maximum(age[ii], age[jj])

    def tercile(self) -> np.ndarray:
        """0, 1, 2: the tercile of the pair's lower quality (over all genuine pairs)."""
        return np.digitize(self.q_min, np.quantile(self.q_min, [1 / 3, 2 / 3]))

    def standardised_ratio(self, bins: int = 10) -> tuple[float, float]:
        """(within-bin, crude) ratio of group N's FNMR to the others': N's FNMR in every decile of
        the pair's mean quality, weighted by the others' share of pairs in that decile."""
        q_mean = (self.q1 + self.q2) / 2
        cut = np.digitize(q_mean, np.quantile(q_mean, np.linspace(0, 1, bins + 1)[1:-1]))
        n = self.ethnicity == "N"
        weight = np.bincount(cut[~n], minlength=bins) / np.count_nonzero(~n)
        rate_n = np.array([self.fnm[n & (cut == k)].mean() if np.any(n & (cut == k)) else 0.0
                           for k in range(bins)])
        other = self.fnm[~n].mean()
        return float((rate_n * weight).sum() / other), float(self.fnm[n].mean() / other)

    def odds_ratio_n(self) -> float:
        """Odds ratio of a false non-match for ethnicity N, adjusted for gender, both qualities, the
        age gap and the webcam (a logistic regression without penalty)."""
        x = np.c_[self.ethnicity == "N", self.gender == "M", self.q1, self.q2, self.age_gap,
                  self.webcam].astype(float)
        model = LogisticRegression(C=1e6, max_iter=5000).fit(x, self.fnm)
        return float(np.exp(model.coef_[0][0]))


@pytest.fixture(scope="module")
def populations() -> dict[str, fairaudit.EmbeddingSet]:
    return {name: synthetic.population(name, n_identities=100, samples_per_identity=5, random_state=0)
            for name in SCENARIOS}


@pytest.fixture(scope="module")
def pairs(populations) -> dict[str, Pairs]:
    return {name: Pairs(es) for name, es in populations.items()}


# --- the covariates ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCENARIOS)
def test_covariate_presets_carry_quality_age_and_device(populations, name):
    es = populations[name]
    assert es.covariate_names == ["quality", "age", "device"]
    assert es.covariate_kinds == {"quality": "numeric", "age": "numeric", "device": "categorical"}
    cov = es.covariates
    assert cov["quality"].dtype == np.float64 and cov["age"].dtype == np.float64
    assert cov["quality"].between(0, 1, inclusive="neither").all()
    assert cov["age"].between(18, 82).all()
    assert set(cov["device"]) == {"kiosk", "phone", "webcam"}
    # an identity's first sample is its first capture; later ones come later, within 12 years
    by_identity = cov.assign(identity=es.identity).groupby("identity", sort=False)["age"]
    assert by_identity.apply(lambda a: bool(np.all(np.diff(a.to_numpy()) >= 0))).all()
    assert (by_identity.max() - by_identity.min()).max() <= 12.0 + 1e-9
    assert (by_identity.max() - by_identity.min()).mean() > 5.0


def test_same_random_state_gives_the_same_covariates():
    a = synthetic.population("covariates_direct", n_identities=10, samples_per_identity=(2, 6), dim=32,
                             random_state=7)
    b = synthetic.population("covariates_direct", n_identities=10, samples_per_identity=(2, 6), dim=32,
                             random_state=7)
    c = synthetic.population("covariates_direct", n_identities=10, samples_per_identity=(2, 6), dim=32,
                             random_state=8)
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    assert a.covariates.equals(b.covariates)
    assert not np.allclose(a.covariates["quality"][:10], c.covariates["quality"][:10])


def test_covariates_leave_the_people_of_the_layout_unchanged():
    """The covariate draws have their own generators: the identities and attributes are those of
    a preset without covariates, and the presets without covariates draw no covariates."""
    plain = synthetic.population("balanced", n_identities=8, dim=32, random_state=3)
    with_cov = synthetic.population("covariates_explained", n_identities=8, dim=32, random_state=3)
    np.testing.assert_array_equal(plain.identity, with_cov.identity)
    assert plain.attributes.equals(with_cov.attributes)
    for name in ("diveface", "balanced"):
        es = synthetic.population(name, n_identities=5, dim=32)
        assert es.covariate_names == [] and "covariates" not in es.metadata["planted"]
        assert not {"quality_median", "quality_slope", "gap_group"} & set(synthetic.planted(name).columns)


def test_every_system_of_a_covariate_population_has_the_same_covariates():
    sets = synthetic.systems("covariates_direct", n_identities=8, dim=32, random_state=2)
    first, second = sets.values()
    assert first.covariates.equals(second.covariates)
    assert not np.allclose(first.embeddings, second.embeddings)
    # the default systems set intra_spread for every group: N's is above the others' in both, much more
    # so in "accurate" (0.91 against 0.72 on average) than in "fair" (1.02 against 0.99)
    gaps = [es.metadata["planted"]["covariates"]["gap"] for es in sets.values()]
    assert [g["direct_effect"] for g in gaps] == [True, True]
    assert gaps[0]["intra_spread_excess"] > 0.15 > 0.05 > gaps[1]["intra_spread_excess"] > 0


def test_a_covariate_population_survives_save_and_load(tmp_path):
    es = synthetic.population("covariates_explained", n_identities=4, samples_per_identity=3, dim=32)
    back = fairaudit.EmbeddingSet.load(es.save(tmp_path / "cov.npz"))
    assert back.covariates.equals(es.covariates) and back.covariate_kinds == es.covariate_kinds
    assert back.metadata["planted"] == es.metadata["planted"]


# --- what was planted ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SCENARIOS)
def test_planted_metadata_states_the_covariate_effects(populations, name):
    planted = populations[name].metadata["planted"]
    assert json.loads(json.dumps(planted)) == planted  # JSON-safe
    cov = planted["covariates"]
    assert cov["scenario"] == name.split("_")[1]
    assert cov["names"] == ["quality", "age", "device"]
    assert cov["units"]["age"] == "age at capture, in years"
    assert cov["quality"]["drives"] == "fnmr" and cov["quality"]["lower_in"] == ["H & N", "M & N"]
    assert cov["quality"]["steeper_in"] == ["M & A", "M & B", "M & N"]
    assert cov["quality"]["median"]["H & N"] < cov["quality"]["median"]["H & A"]
    assert cov["age"]["drives"] == "fnmr" and "larger age gap" in cov["age"]["direction"]
    assert cov["age"]["impostor"]["drives"] == "fmr" and cov["age"]["impostor"]["above_age"] == 60
    assert cov["device"]["worst"] == "webcam"
    gap = cov["gap"]
    assert gap["groups"] == ["H & N", "M & N"] and gap["explained_by"] == "quality"
    assert gap["direct_effect"] is (name == "covariates_direct")
    assert gap["intra_spread_excess"] == pytest.approx(0.08 if name == "covariates_direct" else 0.0)
    assert gap["adjusted_odds_ratio"] == ("> 1" if name == "covariates_direct" else "about 1")


def test_planted_table_and_describe_name_the_covariates():
    table = synthetic.planted("covariates_direct")
    assert table.loc["HN", "quality_median"] < table.loc["HA", "quality_median"]
    assert table.loc["MA", "quality_slope"] > table.loc["HA", "quality_slope"]
    assert table["gap_group"].to_dict() == {"HA": False, "HB": False, "HN": True, "MA": False,
                                            "MB": False, "MN": True}
    assert "direct group effect remains" in synthetic.describe("covariates_direct")
    assert "entirely explained by quality" in synthetic.describe("covariates_explained")


def test_an_override_that_raises_the_gap_group_plants_a_direct_effect():
    es = synthetic.population("covariates_explained", n_identities=3, dim=32, intra_spread={"N": 0.7})
    gap = es.metadata["planted"]["covariates"]["gap"]
    assert gap["direct_effect"] is True and gap["adjusted_odds_ratio"] == "> 1"
    es = synthetic.population("covariates_direct", n_identities=3, dim=32, intra_spread={"N": 0.4})
    assert es.metadata["planted"]["covariates"]["gap"]["adjusted_odds_ratio"] == "< 1"


# --- errors ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    ({"quality_median": 1.0}, r"quality_median=1\.0 .*\(0, 1\)"),
    ({"quality_slope_by": {"M": -1}}, r"quality_slope_by\['M'\]=-1"),
    ({"quality_median_by": [0.5]}, "quality_median_by="),
    ({"age_first": (40, 20)}, r"age_first\[1\]=20"),
    ({"device_noise": {"tablet": 2.0}}, "device_noise=.*drop 'tablet'"),
    ({"devices": ("a", "a")}, "devices="),
])
def test_bad_covariate_settings_raise_one_line_naming_the_setting(kwargs, match):
    with pytest.raises(FairauditInputError, match=match) as info:
        CovariateModel(scenario="x", gap_group="N", **kwargs)
    assert "\n" not in str(info.value) and "Fix:" in str(info.value)


def test_a_covariate_key_naming_no_group_raises():
    base = synthetic.PRESETS["covariates_explained"]
    model = CovariateModel(scenario="x", gap_group="N", quality_median_by={"Z": 0.4})
    with pytest.raises(FairauditInputError, match="quality_median_by: key 'Z' names no group"):
        synthetic.Preset(name="bad", attributes=base.attributes, groups=base.groups, description="",
                         covariates=model)
    with pytest.raises(FairauditInputError, match="not a CovariateModel"):
        synthetic.Preset(name="bad", attributes=base.attributes, groups=base.groups, description="",
                         covariates={"quality": 1})


# --- the oracle: the planted covariate effects, by brute force -------------------------------------------
@pytest.mark.parametrize("name", SCENARIOS)
def test_fnmr_is_higher_in_low_quality_bins(pairs, name):
    p = pairs[name]
    tercile = p.tercile()
    for group in ("H", "M"):
        rates = [p.fnm[(p.gender == group) & (tercile == k)].mean() for k in range(3)]
        assert rates[0] > rates[1] > rates[2]
        assert rates[0] > 3 * rates[2] and rates[0] - rates[2] > 0.05


@pytest.mark.parametrize("name", SCENARIOS)
def test_quality_hurts_women_more(pairs, name):
    p = pairs[name]
    tercile = p.tercile()
    drop = {g: p.fnm[(p.gender == g) & (tercile == 0)].mean() - p.fnm[(p.gender == g) & (tercile == 2)].mean()
            for g in ("H", "M")}
    # measured: about 0.10 for men and 0.37 (explained) / 0.47 (direct) for women
    assert drop["M"] > 2 * drop["H"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_lower_quality_group_has_the_higher_fnmr(pairs, populations, name):
    p, es = pairs[name], populations[name]
    quality = es.covariates["quality"].to_numpy()
    n = es.column("ethnicity") == "N"
    assert np.median(quality[n]) < np.median(quality[~n]) - 0.1
    assert p.fnm[p.ethnicity == "N"].mean() > 2 * p.fnm[p.ethnicity != "N"].mean()


@pytest.mark.parametrize("name", SCENARIOS)
def test_larger_age_gaps_have_higher_fnmr(pairs, name):
    p = pairs[name]
    rates = [p.fnm[(p.age_gap >= lo) & (p.age_gap < hi)].mean() for lo, hi in ((0, 3), (3, 6), (6, 9), (9, 13))]
    assert all(a < b for a, b in zip(rates, rates[1:]))
    assert rates[-1] > 1.5 * rates[0]


@pytest.mark.parametrize("name", SCENARIOS)
def test_the_webcam_raises_fnmr_and_elderly_impostors_raise_fmr(pairs, name):
    p = pairs[name]
    assert p.fnm[p.webcam].mean() > 1.3 * p.fnm[~p.webcam].mean()
    old = p.imp_age_min > 70
    young = p.imp_age_max < 50
    assert p.fm[old].mean() > 2.5 * p.fm[young].mean()


def test_explained_scenario_gap_vanishes_within_quality_bins(pairs):
    within, crude = pairs["covariates_explained"].standardised_ratio()
    assert crude > 2.5  # measured 3.3-3.6 over 10 seeds
    assert 0.75 < within < 1.33  # measured 0.91-1.15
    assert 0.7 < pairs["covariates_explained"].odds_ratio_n() < 1.4  # measured 0.88-1.21


def test_direct_scenario_gap_remains_within_quality_bins(pairs):
    within, crude = pairs["covariates_direct"].standardised_ratio()
    assert crude > 4.0  # measured 5.2-6.0 over 10 seeds
    assert within > 1.6  # measured 2.0-2.4
    assert pairs["covariates_direct"].odds_ratio_n() > 2.0  # measured 2.7-3.5
