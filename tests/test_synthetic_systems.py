"""Tests of fairaudit.synthetic.systems: several systems of one synthetic population, each with
its own planted profile, aligned sample for sample."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import synthetic
from fairaudit.common.errors import FairauditInputError
from fairaudit.data.synthetic import (BAD_SYSTEM_NAME, BAD_SYSTEM_OVERRIDES, BAD_SYSTEMS, NO_DEFAULT_SYSTEMS,
                                      SYSTEM_PROBLEM, UNKNOWN_PARAMETER)


def _assert_aligned(sets: dict[str, fairaudit.EmbeddingSet]) -> None:
    first = next(iter(sets.values()))
    for es in sets.values():
        np.testing.assert_array_equal(es.identity, first.identity)
        pd.testing.assert_frame_equal(es.attributes, first.attributes)
        assert es.value_labels == first.value_labels
        assert es.embeddings.shape == first.embeddings.shape


# --- alignment ------------------------------------------------------------------------------------
def test_every_system_holds_the_same_samples_in_the_same_order():
    sets = synthetic.systems(n_identities=12, samples_per_identity=(2, 6), dim=48, random_state=4)
    assert list(sets) == ["accurate", "fair"]
    _assert_aligned(sets)
    reference = synthetic.population(n_identities=12, samples_per_identity=(2, 6), dim=48, random_state=4)
    np.testing.assert_array_equal(sets["fair"].identity, reference.identity)
    pd.testing.assert_frame_equal(sets["fair"].attributes, reference.attributes)
    assert sets["fair"].value_labels == reference.value_labels
    # what differs is the embeddings, and they are unit vectors
    assert not np.allclose(sets["accurate"].embeddings, sets["fair"].embeddings)
    for es in sets.values():
        np.testing.assert_allclose(np.linalg.norm(es.embeddings, axis=1), 1.0, atol=1e-6)


def test_systems_share_the_people_and_differ_by_their_own_noise():
    # without sample noise a sample is its identity's centre: the same in every system, and as population()
    still = {"intra_spread": 0.0}
    sets = synthetic.systems(n_identities=5, dim=32, systems={"X": still, "Y": still}, random_state=2)
    np.testing.assert_array_equal(sets["X"].embeddings, sets["Y"].embeddings)
    np.testing.assert_allclose(sets["X"].embeddings,
                               synthetic.population(n_identities=5, dim=32, random_state=2,
                                                    intra_spread=0.0).embeddings, atol=1e-12)
    # with it, two systems of the same parameters are two equally good systems, not one system twice
    same = synthetic.systems(n_identities=5, dim=32, systems={"X": {}, "Y": {}}, random_state=2)
    assert not np.allclose(same["X"].embeddings, same["Y"].embeddings)


def test_identities_do_not_depend_on_the_overrides():
    base = synthetic.population(n_identities={"HA": 7, "MN": 3}, samples_per_identity=(1, 5), dim=40, random_state=9)
    other = synthetic.population(n_identities={"HA": 7, "MN": 3}, samples_per_identity=(1, 5), dim=40, random_state=9,
                                 intra_spread={"A": 1.3}, identity_similarity=0.05, sample_jitter=1.5,
                                 identity_jitter=0.0)
    np.testing.assert_array_equal(base.identity, other.identity)
    pd.testing.assert_frame_equal(base.attributes, other.attributes)


# --- determinism ----------------------------------------------------------------------------------
def test_the_same_random_state_gives_identical_sets():
    a = synthetic.systems(n_identities=8, samples_per_identity=3, random_state=11)
    b = synthetic.systems(n_identities=8, samples_per_identity=3, random_state=11)
    c = synthetic.systems(n_identities=8, samples_per_identity=3, random_state=np.random.default_rng(11))
    for name in a:
        np.testing.assert_array_equal(a[name].embeddings, b[name].embeddings)
        np.testing.assert_array_equal(a[name].embeddings, c[name].embeddings)
        assert a[name].metadata == b[name].metadata
    d = synthetic.systems(n_identities=8, samples_per_identity=3, random_state=12)
    assert not np.allclose(a["fair"].embeddings, d["fair"].embeddings)


def test_a_system_does_not_change_when_others_are_added_or_reordered():
    profiles = synthetic.DEFAULT_SYSTEMS
    two = synthetic.systems(n_identities=6, systems=dict(profiles), random_state=1)
    three = synthetic.systems(n_identities=6, random_state=1,
                              systems={"third": {"intra_spread": 0.5}, "fair": profiles["fair"],
                                       "accurate": profiles["accurate"]})
    assert list(three) == ["third", "fair", "accurate"]
    for name in two:
        np.testing.assert_array_equal(two[name].embeddings, three[name].embeddings)


def test_metadata_records_the_system_and_survives_save_and_load(tmp_path):
    sets = synthetic.systems(n_identities=4, samples_per_identity=2, dim=24)
    meta = sets["accurate"].metadata
    assert meta["system"]["name"] == "accurate" and meta["system"]["systems"] == ["accurate", "fair"]
    assert meta["system"]["overrides"] == synthetic.DEFAULT_SYSTEMS["accurate"]
    assert (meta["system"]["pooled_fnmr_rank"], meta["system"]["fnmr_max_min_rank"]) == (2, 1)
    # the per-group parameters are the overridden ones, and no six-group order is claimed
    assert meta["planted"]["parameters"]["M & N"]["intra_spread"] == synthetic.DEFAULT_SYSTEMS["accurate"][
        "intra_spread"]["MN"]
    assert meta["planted"]["overridden"] and meta["planted"]["fnmr_order"] == []
    sets["accurate"].save(tmp_path / "a.npz")
    assert fairaudit.EmbeddingSet.load(tmp_path / "a.npz").metadata == meta


# --- the planted profiles, recovered by the audit -------------------------------------------------------
@pytest.mark.parametrize("n_identities", [100, 30])
def test_the_verification_audit_recovers_the_planted_profiles(n_identities):
    sets = synthetic.systems(n_identities=n_identities, random_state=0)
    claims = synthetic.planted_systems()
    measured = {}
    for name, es in sets.items():
        result = fairaudit.verification_audit(es, by=["gender", "ethnicity"], threshold="fmr=1e-3", n_boot=0)
        fairness = result.fairness
        assert fairness.loc[["fnmr_max_min", "fmr_max_min"], "defined"].all(), name
        measured[name] = {"pooled_fnmr_rank": result.overall["fnmr"],
                          "fnmr_max_min_rank": fairness.loc["fnmr_max_min", "value"],
                          "fmr_max_min_rank": fairness.loc["fmr_max_min", "value"]}
    for rank in ("pooled_fnmr_rank", "fnmr_max_min_rank", "fmr_max_min_rank"):
        order = sorted(measured, key=lambda name: -measured[name][rank])  # highest first
        assert order == claims[rank].sort_values().index.tolist(), (rank, measured)
    # with a clear margin: the accurate system has about half the fair one's pooled FNMR, and group
    # ratios several times as large
    a, f = measured["accurate"], measured["fair"]
    assert a["pooled_fnmr_rank"] < 0.75 * f["pooled_fnmr_rank"]
    assert a["fnmr_max_min_rank"] > 2.5 * f["fnmr_max_min_rank"]
    assert a["fmr_max_min_rank"] > 5 * f["fmr_max_min_rank"]


def test_planted_systems_describes_every_system():
    table = synthetic.planted_systems()
    assert table.index.name == "system" and table.index.tolist() == ["accurate", "fair"]
    assert table["pooled_fnmr_rank"].tolist() == [2, 1]
    assert table["fnmr_max_min_rank"].tolist() == [1, 2] and table["fmr_max_min_rank"].tolist() == [1, 2]
    assert all(isinstance(text, str) and text for text in table["description"])
    params = table.loc["fair", "parameters"]
    assert set(params) == {"H & A", "H & B", "H & N", "M & A", "M & B", "M & N"}
    assert params["H & B"]["intra_spread"] == synthetic.DEFAULT_SYSTEMS["fair"]["intra_spread"]["HB"]
    # the default systems plant their differences in the spread first: accurate is tighter in every group
    accurate = table.loc["accurate", "parameters"]
    assert all(accurate[g]["intra_spread"] < params[g]["intra_spread"] for g in params)
    # your own systems: their parameters, and no claim
    own = synthetic.planted_systems("balanced", {"low": {"intra_spread": 0.5}, "high": {"intra_spread": {"N": 1.2}}})
    assert own.index.tolist() == ["low", "high"]
    assert own["pooled_fnmr_rank"].isna().all() and own["description"].tolist() == ["", ""]
    assert own.loc["high", "parameters"]["M & N"]["intra_spread"] == 1.2
    assert own.loc["high", "parameters"]["M & A"]["intra_spread"] == 0.8


def test_systems_of_your_own_preset():
    preset = synthetic.Preset(
        name="skin", attributes=("skin",), gender_attribute=None, description="two skin tones",
        groups=(synthetic.GroupSpec(values={"skin": "light"}, intra_spread=0.6, identity_similarity=0.2),
                synthetic.GroupSpec(values={"skin": "dark"}, intra_spread=0.6, identity_similarity=0.2)))
    sets = synthetic.systems(preset, n_identities=5, dim=16, systems={"even": {}, "skewed": {"intra_spread": {"dark": 1.0}}})
    _assert_aligned(sets)
    assert sets["skewed"].metadata["planted"]["parameters"]["dark"]["intra_spread"] == 1.0
    with pytest.raises(FairauditInputError) as info:
        synthetic.systems(preset, n_identities=5, dim=16)
    assert str(info.value) == NO_DEFAULT_SYSTEMS.format(
        names=["accurate", "fair"], labels=["HA", "HB", "HN", "MA", "MB", "MN"], preset="skin",
        found=["light", "dark"])


# --- hostile input --------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [{}, [], "accurate", [("A", {})], 3])
def test_systems_must_be_a_non_empty_dict(value):
    for call in (synthetic.systems, synthetic.planted_systems):
        with pytest.raises(FairauditInputError) as info:
            call(systems=value)
        assert str(info.value) == BAD_SYSTEMS.format(value=value, defaults=["accurate", "fair"])


@pytest.mark.parametrize("name", [1, None, ("A",), ""])
def test_a_system_name_must_be_a_non_empty_string(name):
    with pytest.raises(FairauditInputError) as info:
        synthetic.systems(systems={"ok": {}, name: {}})
    assert str(info.value) == BAD_SYSTEM_NAME.format(value=name, type=type(name).__name__)


@pytest.mark.parametrize("overrides", [0.7, None, ["intra_spread", 0.7]])
def test_overrides_of_a_system_must_be_a_dict(overrides):
    with pytest.raises(FairauditInputError) as info:
        synthetic.systems(systems={"A": {}, "B": overrides})
    assert str(info.value) == BAD_SYSTEM_OVERRIDES.format(name="B", value=overrides,
                                                          available=list(synthetic.PARAMETERS))


def test_unknown_parameter_names_the_system():
    with pytest.raises(FairauditInputError) as info:
        synthetic.systems(systems={"A": {}, "B": {"spread": 0.7}})
    assert str(info.value) == SYSTEM_PROBLEM.format(
        name="B", message=UNKNOWN_PARAMETER.format(value="spread", available=list(synthetic.PARAMETERS)))


def test_overrides_naming_an_unknown_group_name_the_system_and_the_valid_keys():
    with pytest.raises(FairauditInputError) as info:
        synthetic.planted_systems(systems={"A": {"intra_spread": {"XY": 0.7}}})
    message = str(info.value)
    assert message.startswith("systems['A']: intra_spread: key 'XY' names no group of preset 'diveface'")
    assert "'HA'" in message and "Fix:" in message


@pytest.mark.parametrize("overrides, fragment", [
    ({"identity_similarity": 1.5}, "identity_similarity=1.5 for group 'HA' is out of range"),
    ({"intra_spread": {"N": "wide"}}, "intra_spread='wide' for group 'HN' is out of range"),
    ({"sample_jitter": True}, "sample_jitter=True"),
])
def test_bad_override_values_name_the_system(overrides, fragment):
    with pytest.raises(FairauditInputError, match=r"^systems\['B'\]: ") as info:
        synthetic.systems(systems={"A": {}, "B": overrides})
    assert fragment in str(info.value)


def test_the_population_arguments_are_checked_as_by_population():
    with pytest.raises(FairauditInputError, match="dim=4 must be an integer"):
        synthetic.systems(dim=4)
    with pytest.raises(FairauditInputError, match="random_state='seed'"):
        synthetic.systems(random_state="seed")
    with pytest.raises(FairauditInputError, match="samples_per_identity=0"):
        synthetic.systems(samples_per_identity=0)
    with pytest.raises(FairauditInputError, match="preset='nope'"):
        synthetic.systems("nope")
