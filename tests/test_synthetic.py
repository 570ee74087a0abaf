"""Tests of fairaudit.synthetic: the seeded population with planted biases.

The oracle tests recompute every rate by brute force (all pairs, explicit
counting) rather than through fairaudit's own audit code, so that they check
the generator and not another part of the library.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

import fairaudit
from fairaudit import synthetic
from fairaudit.common.errors import FairauditInputError

DIVEFACE_LABELS = ["HA", "HB", "HN", "MA", "MB", "MN"]


def _labels(es: fairaudit.EmbeddingSet) -> np.ndarray:
    return np.char.add(es.column("gender").astype(str), es.column("ethnicity").astype(str))


def _brute_force_rates(es: fairaudit.EmbeddingSet) -> tuple[float, dict[str, tuple[float, float]]]:
    """Per-group (FNMR, FMR) at the pooled EER threshold, from all pairs.

    Genuine pairs: two samples of one identity. Impostor pairs: two samples of
    different identities of the same group (the demographic impostors of a
    per-group FMR). The pooled EER threshold is the genuine score ``t`` that
    minimises ``|FMR(t) - FNMR(t)|`` over the pooled pairs, with
    ``FMR(t) = #(impostor >= t) / #impostor`` and
    ``FNMR(t) = #(genuine < t) / #genuine``.
    """
    x = es.embeddings.astype(np.float64)
    scores = x @ x.T
    ident = es.identity
    label = _labels(es)
    upper = np.triu(np.ones(scores.shape, dtype=bool), k=1)
    same_id = ident[:, None] == ident[None, :]
    same_group = label[:, None] == label[None, :]
    genuine_mask = upper & same_id
    impostor_mask = upper & ~same_id & same_group
    genuine = scores[genuine_mask]
    impostor = scores[impostor_mask]

    # counting at every candidate threshold, through sorted arrays
    candidates = np.sort(genuine)
    sorted_impostor = np.sort(impostor)
    n_impostor_at_or_above = impostor.size - np.searchsorted(sorted_impostor, candidates, side="left")
    n_genuine_below = np.searchsorted(candidates, candidates, side="left")
    fmr = n_impostor_at_or_above / impostor.size
    fnmr = n_genuine_below / genuine.size
    threshold = float(candidates[np.argmin(np.abs(fmr - fnmr))])

    rates = {}
    row_label = np.broadcast_to(label[:, None], scores.shape)
    for group in np.unique(label):
        in_group = row_label == group
        g = scores[genuine_mask & in_group]
        i = scores[impostor_mask & in_group]
        rates[str(group)] = (
            np.count_nonzero(g < threshold) / g.size,
            np.count_nonzero(i >= threshold) / i.size,
        )
    return threshold, rates


@pytest.fixture(scope="module")
def diveface() -> fairaudit.EmbeddingSet:
    return synthetic.population("diveface", n_identities=100, samples_per_identity=5, random_state=0)


@pytest.fixture(scope="module")
def diveface_rates(diveface):
    return _brute_force_rates(diveface)


# --- determinism ----------------------------------------------------------------
def test_same_random_state_gives_identical_arrays():
    a = synthetic.population(n_identities=10, samples_per_identity=3, random_state=7)
    b = synthetic.population(n_identities=10, samples_per_identity=3, random_state=7)
    np.testing.assert_array_equal(a.embeddings, b.embeddings)
    np.testing.assert_array_equal(a.identity, b.identity)
    pd.testing.assert_frame_equal(a.attributes, b.attributes)


def test_different_random_state_gives_different_arrays():
    a = synthetic.population(n_identities=10, samples_per_identity=3, random_state=7)
    b = synthetic.population(n_identities=10, samples_per_identity=3, random_state=8)
    assert a.embeddings.shape == b.embeddings.shape
    assert not np.allclose(a.embeddings, b.embeddings)


def test_generator_random_state_matches_its_seed():
    a = synthetic.population(n_identities=5, random_state=3)
    b = synthetic.population(n_identities=5, random_state=np.random.default_rng(3))
    np.testing.assert_array_equal(a.embeddings, b.embeddings)


def test_random_state_none_draws_fresh_data():
    a = synthetic.population(n_identities=5, random_state=None)
    b = synthetic.population(n_identities=5, random_state=None)
    assert not np.allclose(a.embeddings, b.embeddings)


def test_generation_does_not_touch_global_numpy_state():
    np.random.seed(123)
    expected = np.random.random_sample()
    np.random.seed(123)
    synthetic.population(n_identities=5, random_state=0)
    assert np.random.random_sample() == expected


# --- shapes, labels and attributes ------------------------------------------------
def test_shapes_labels_and_attributes(diveface):
    es = diveface
    assert isinstance(es, fairaudit.EmbeddingSet)
    assert len(es) == 6 * 100 * 5
    assert es.n_features == 128
    assert es.n_identities == 600
    assert es.attribute_names == ["gender", "ethnicity"]
    assert set(es.column("gender")) == {"H", "M"}
    assert set(es.column("ethnicity")) == {"A", "B", "N"}
    assert all(re.fullmatch(r"[HM][ABN]\d{4}", ident) for ident in np.unique(es.identity))
    assert {f"HA{k:04d}" for k in range(1, 101)} <= set(es.identity)
    # the identity label starts with the group's attribute values
    label = _labels(es)
    assert all(ident.startswith(lab) for ident, lab in zip(es.identity, label))


def test_identity_attributes_are_constant(diveface):
    frame = diveface.attributes.assign(identity=diveface.identity)
    assert (frame.groupby("identity").nunique() == 1).all().all()


def test_dim_is_honoured():
    es = synthetic.population(n_identities=3, samples_per_identity=2, dim=32)
    assert es.n_features == 32


def test_embeddings_have_unit_norm(diveface):
    norms = np.linalg.norm(diveface.embeddings.astype(np.float64), axis=1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_scores_lie_in_a_realistic_range(diveface):
    x = diveface.embeddings[:1000].astype(np.float64)
    scores = x @ x.T
    ident = diveface.identity[:1000]
    upper = np.triu(np.ones(scores.shape, dtype=bool), k=1)
    same = ident[:, None] == ident[None, :]
    genuine, impostor = scores[upper & same], scores[upper & ~same]
    assert 0.4 < np.median(genuine) < 0.9
    assert -0.2 < np.median(impostor) < 0.4
    assert np.mean((genuine > 0.3) & (genuine < 0.95)) > 0.9
    assert np.mean((impostor > -0.25) & (impostor < 0.45)) > 0.95


# --- sizes --------------------------------------------------------------------
def test_per_group_sizes_honoured():
    es = synthetic.population(n_identities={"N": 2, "HA": 3, "MN": 4}, samples_per_identity=(2, 4),
                              random_state=1)
    per_group = pd.Series(es.identity).groupby(_labels(es)).nunique()
    # attribute-value keys first, exact labels last; unnamed groups keep 100
    assert per_group.to_dict() == {"HA": 3, "HB": 100, "HN": 2, "MA": 100, "MB": 100, "MN": 4}
    per_identity = pd.Series(es.identity).value_counts()
    assert per_identity.between(2, 4).all()
    assert per_identity.nunique() > 1


def test_audit_table_labels_are_accepted_as_keys():
    es = synthetic.population(n_identities={"H & A": 2, "M & A": 0}, samples_per_identity=1)
    assert pd.Series(es.identity).groupby(_labels(es)).nunique()["HA"] == 2
    assert "MA" not in set(_labels(es))


def test_zero_identities_drop_a_group():
    es = synthetic.population(n_identities={"B": 0, "A": 0, "N": 3}, samples_per_identity=2)
    assert set(_labels(es)) == {"HN", "MN"}
    assert len(es) == 2 * 3 * 2


def test_group_draws_do_not_depend_on_other_group_sizes():
    a = synthetic.population(n_identities=5, samples_per_identity=2, random_state=4)
    sizes = {label: 5 for label in DIVEFACE_LABELS} | {"HA": 50}
    b = synthetic.population(n_identities=sizes, samples_per_identity=2, random_state=4)
    la, lb = _labels(a), _labels(b)
    assert (lb == "HA").sum() == 100
    for group in ("HB", "MN"):
        np.testing.assert_array_equal(a.embeddings[la == group], b.embeddings[lb == group])


@pytest.mark.parametrize("value", [-1, 1.5, "10", True, None, {"HA": -1}, {"HA": 2.0}])
def test_bad_n_identities_raise(value):
    with pytest.raises(FairauditInputError, match="n_identities="):
        synthetic.population(n_identities=value)


def test_too_few_identities_in_total_raise():
    with pytest.raises(FairauditInputError, match="at least 2"):
        synthetic.population(n_identities={"H": 0, "MA": 0, "MB": 0, "MN": 1})


@pytest.mark.parametrize("value", [0, -2, 2.5, (3, 2), (0, 2), (1, 2, 3), "5", True])
def test_bad_samples_per_identity_raise(value):
    with pytest.raises(FairauditInputError, match=re.escape(f"samples_per_identity={value!r}")):
        synthetic.population(samples_per_identity=value)


@pytest.mark.parametrize("value", [4, 0, 64.0, "128"])
def test_bad_dim_raises(value):
    with pytest.raises(FairauditInputError, match="dim="):
        synthetic.population(dim=value)


@pytest.mark.parametrize("value", ["seed", -1, 1.5])
def test_bad_random_state_raises(value):
    with pytest.raises(FairauditInputError, match="random_state="):
        synthetic.population(random_state=value)


def test_unknown_preset_raises_naming_the_presets():
    with pytest.raises(FairauditInputError, match="'balanced', 'diveface'") as info:
        synthetic.population("rfw")
    assert "'rfw'" in str(info.value)
    with pytest.raises(FairauditInputError, match="available presets"):
        synthetic.planted("rfw")


# --- overrides ------------------------------------------------------------------
def test_override_by_attribute_value_changes_only_those_groups():
    base = synthetic.population(n_identities=20, samples_per_identity=3, random_state=2)
    tight = synthetic.population(n_identities=20, samples_per_identity=3, random_state=2,
                                 intra_spread={"N": 0.3})
    lb, lt = _labels(base), _labels(tight)
    for group in ("HA", "HB", "MA", "MB"):
        np.testing.assert_array_equal(base.embeddings[lb == group], tight.embeddings[lt == group])

    def genuine_mean(es, group):
        m = _labels(es) == group
        x, ident = es.embeddings[m].astype(np.float64), es.identity[m]
        s = x @ x.T
        mask = np.triu(ident[:, None] == ident[None, :], k=1)
        return s[mask].mean()

    for group in ("HN", "MN"):
        assert genuine_mean(tight, group) > genuine_mean(base, group) + 0.2


def test_scalar_override_applies_to_every_group():
    a = synthetic.population(n_identities=20, random_state=5, identity_similarity=0.0)
    b = synthetic.population(n_identities=20, random_state=5, identity_similarity=0.6)
    for es, low, high in ((a, -0.1, 0.1), (b, 0.2, 0.5)):
        label = _labels(es)
        for group in DIVEFACE_LABELS:
            m = label == group
            x, ident = es.embeddings[m].astype(np.float64), es.identity[m]
            s = x @ x.T
            mask = np.triu(ident[:, None] != ident[None, :], k=1)
            assert low < s[mask].mean() < high


def test_exact_label_overrides_win_over_attribute_values():
    specs = synthetic._apply_overrides(synthetic.PRESETS["diveface"],
                                       {"intra_spread": {"MN": 1.2, "N": 0.4}})
    by_label = {spec.label: spec.intra_spread for spec in specs}
    assert by_label["MN"] == 1.2 and by_label["HN"] == 0.4
    assert by_label["HA"] == synthetic.planted().loc["HA", "intra_spread"]


def test_unknown_parameter_raises_naming_the_valid_ones():
    with pytest.raises(FairauditInputError) as info:
        synthetic.population(intra_sprad={"N": 0.6})
    message = str(info.value)
    assert "'intra_sprad'" in message
    for name in synthetic.PARAMETERS:
        assert name in message


def test_unknown_group_key_raises_naming_the_valid_ones():
    with pytest.raises(FairauditInputError) as info:
        synthetic.population(intra_spread={"X": 0.6})
    message = str(info.value)
    assert "intra_spread" in message and "'X'" in message
    for label in DIVEFACE_LABELS + ["H", "M", "A", "B", "N"]:
        assert f"'{label}'" in message


@pytest.mark.parametrize("name, value", [
    ("intra_spread", -0.1), ("identity_similarity", 1.0), ("identity_similarity", -0.2),
    ("gender_strength", 1.5), ("gender_angle_deg", float("nan")), ("sample_jitter", 3.0),
])
def test_out_of_range_parameter_raises(name, value):
    with pytest.raises(FairauditInputError, match=f"{name}=.*out of range"):
        synthetic.population(**{name: {"A": value}})


def test_non_numeric_override_raises():
    with pytest.raises(FairauditInputError, match="intra_spread='big'"):
        synthetic.population(intra_spread="big")


# --- presets, planted(), describe() ---------------------------------------------
def test_presets_include_diveface_and_balanced():
    assert {"diveface", "balanced"} <= set(synthetic.PRESETS)
    diveface = synthetic.PRESETS["diveface"]
    assert diveface.attributes == ("gender", "ethnicity")
    assert sorted(diveface.labels) == DIVEFACE_LABELS
    assert sorted(diveface.planted_fnmr_order) == DIVEFACE_LABELS
    assert sorted(diveface.planted_fmr_order) == DIVEFACE_LABELS


def test_balanced_preset_has_identical_group_parameters():
    table = synthetic.planted("balanced")
    params = table[list(synthetic.PARAMETERS)]
    assert (params.nunique() == 1).all()
    assert (table["fnmr_rank"] == 1).all() and (table["fmr_rank"] == 1).all()
    assert synthetic.PRESETS["balanced"].planted_fnmr_order == ()


def test_planted_table_matches_the_preset():
    preset = synthetic.PRESETS["diveface"]
    table = synthetic.planted("diveface")
    assert sorted(table.index) == DIVEFACE_LABELS
    assert table.loc["HA", "group"] == "H & A"
    assert list(table.sort_values("fnmr_rank").index) == list(preset.planted_fnmr_order)
    assert list(table.sort_values("fmr_rank").index) == list(preset.planted_fmr_order)
    for spec in preset.groups:
        for name, value in spec.parameters().items():
            assert table.loc[spec.label, name] == value
    # the planted knobs move in the planted direction
    fnmr_sorted = table.sort_values("fnmr_rank")
    assert fnmr_sorted["intra_spread"].is_monotonic_decreasing
    fmr_sorted = table.sort_values("fmr_rank")
    assert fmr_sorted["identity_similarity"].is_monotonic_decreasing
    np.testing.assert_allclose(table["genuine_mean"], 1 / (1 + table["intra_spread"] ** 2))


def test_planted_accepts_a_preset_object():
    preset = synthetic.PRESETS["diveface"]
    pd.testing.assert_frame_equal(synthetic.planted(preset), synthetic.planted("diveface"))


def test_describe_names_the_planted_orders():
    text = synthetic.describe("diveface")
    assert "MN > HN > MA > HA > MB > HB" in text
    assert "MA > HA > MN > HN > MB > HB" in text
    assert "intra_spread" in text and "identity_similarity" in text
    assert "no systematic difference" in synthetic.describe("balanced")


def test_group_spec_is_immutable_and_hashable():
    spec = synthetic.PRESETS["diveface"].groups[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.intra_spread = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        spec.values["gender"] = "X"  # type: ignore[index]
    assert hash(spec) == hash(dataclasses.replace(spec))
    assert spec.label == "HA" and spec.group == "H & A"


def test_inconsistent_preset_raises():
    spec = synthetic.GroupSpec(values={"ethnicity": "A"}, intra_spread=0.8, identity_similarity=0.3)
    with pytest.raises(FairauditInputError, match="not an ordering of the group labels"):
        synthetic.Preset(name="bad", attributes=("ethnicity",), groups=(spec,), description="",
                         planted_fmr_order=("B",), gender_attribute=None)
    with pytest.raises(FairauditInputError, match="gender_attribute='gender'"):
        synthetic.Preset(name="bad", attributes=("ethnicity",), groups=(spec,), description="")
    with pytest.raises(FairauditInputError, match="identity_similarity=1.2 .*out of range"):
        synthetic.GroupSpec(values={"ethnicity": "A"}, intra_spread=0.8, identity_similarity=1.2)


def test_custom_preset_without_gender_generates():
    groups = tuple(
        synthetic.GroupSpec(values={"skin": v}, intra_spread=sw, identity_similarity=0.2)
        for v, sw in (("light", 0.5), ("dark", 0.9))
    )
    preset = synthetic.Preset(name="skin", attributes=("skin",), groups=groups,
                              description="two skin tones", planted_fnmr_order=("dark", "light"),
                              gender_attribute=None)
    es = synthetic.population(preset, n_identities=4, samples_per_identity=2, dim=16)
    assert es.attribute_names == ["skin"]
    assert set(es.identity) >= {"light0001", "dark0004"}
    assert synthetic.planted(preset).loc["dark", "fnmr_rank"] == 1


# --- the oracle: an audit must find what was planted -------------------------------
def test_planted_orders_are_recovered_by_brute_force(diveface_rates):
    _, rates = diveface_rates
    table = synthetic.planted("diveface")
    fnmr = pd.Series({g: r[0] for g, r in rates.items()})
    fmr = pd.Series({g: r[1] for g, r in rates.items()})
    observed_fnmr_rank = fnmr.rank(ascending=False, method="min").astype(int)
    observed_fmr_rank = fmr.rank(ascending=False, method="min").astype(int)
    pd.testing.assert_series_equal(observed_fnmr_rank.sort_index(), table["fnmr_rank"].sort_index(),
                                   check_names=False)
    pd.testing.assert_series_equal(observed_fmr_rank.sort_index(), table["fmr_rank"].sort_index(),
                                   check_names=False)


def test_rates_at_the_eer_threshold_are_realistic(diveface_rates):
    threshold, rates = diveface_rates
    assert 0.2 < threshold < 0.5
    fnmr = np.array([r[0] for r in rates.values()])
    fmr = np.array([r[1] for r in rates.values()])
    assert ((fmr > 1e-3) & (fmr < 0.2)).all()
    assert fnmr.max() < 0.3 and (fnmr > 0).sum() >= 5
    assert fmr.max() / fmr.min() > 5  # a clear planted differential


def test_planted_main_effects_hold_at_another_seed():
    es = synthetic.population("diveface", random_state=1)
    _, rates = _brute_force_rates(es)
    fnmr = {g: r[0] for g, r in rates.items()}
    fmr = {g: r[1] for g, r in rates.items()}

    def by_ethnicity(rate, e):
        return rate["H" + e] + rate["M" + e]

    assert by_ethnicity(fnmr, "N") > by_ethnicity(fnmr, "A") > by_ethnicity(fnmr, "B")
    assert by_ethnicity(fmr, "A") > by_ethnicity(fmr, "N") > by_ethnicity(fmr, "B")
    for e in "ABN":
        assert fnmr["M" + e] > fnmr["H" + e]
        assert fmr["M" + e] > fmr["H" + e]


def test_gender_is_decodable_and_transfers_worse_across_ethnicities(diveface):
    x = diveface.embeddings
    gender = diveface.column("gender")
    ethnicity = diveface.column("ethnicity")
    number = np.array([int(ident[2:]) for ident in diveface.identity])
    train = number % 2 == 1  # identity-disjoint halves
    accuracy = pd.DataFrame(index=list("ABN"), columns=list("ABN"), dtype=float)
    for source in "ABN":
        fit = train & (ethnicity == source)
        head = LogisticRegression(max_iter=1000).fit(x[fit], gender[fit])
        for target in "ABN":
            test = ~train & (ethnicity == target)
            accuracy.loc[source, target] = head.score(x[test], gender[test])
    for source in "ABN":
        own = accuracy.loc[source, source]
        assert own > 0.8
        assert all(own > accuracy.loc[source, t] for t in "ABN" if t != source)
    # gender directions at 0, 35 and 70 degrees: accuracy falls with the angle
    assert accuracy.loc["A", "A"] > accuracy.loc["A", "B"] > accuracy.loc["A", "N"]
    assert accuracy.loc["N", "N"] > accuracy.loc["N", "B"] > accuracy.loc["N", "A"]


def test_balanced_preset_shows_no_systematic_ordering(diveface_rates):
    threshold, rates = _brute_force_rates(synthetic.population("balanced", random_state=0))
    fnmr = np.array([r[0] for r in rates.values()])
    fmr = np.array([r[1] for r in rates.values()])
    eer = (fnmr.mean() + fmr.mean()) / 2
    assert 0.005 < eer < 0.1
    # sampling noise only: every group within a tolerance of the pooled rate
    assert np.all(np.abs(fmr / fmr.mean() - 1) < 0.3)
    assert np.all(np.abs(fnmr / fnmr.mean() - 1) < 0.7)
    # ... a tolerance that the planted preset clearly breaks
    _, planted_rates = diveface_rates
    planted_fmr = np.array([r[1] for r in planted_rates.values()])
    planted_fnmr = np.array([r[0] for r in planted_rates.values()])
    assert np.any(np.abs(planted_fmr / planted_fmr.mean() - 1) >= 0.3)
    assert np.any(np.abs(planted_fnmr / planted_fnmr.mean() - 1) >= 0.7)


# --- 1:N: the roles and the planted effects an identification audit must find ---------------------
def test_search_roles_split_every_group_into_gallery_mated_and_nonmated_probes():
    es = synthetic.population("diveface", n_identities=40, samples_per_identity=3, dim=16)
    roles = synthetic.search_roles(es, nonmated_share=0.25, gallery_samples=1, random_state=3)
    assert roles.shape == (len(es),) and set(roles) == {"gallery", "probe"}
    frame = pd.DataFrame({"identity": es.identity, "role": roles, "gender": es.column("gender"),
                          "ethnicity": es.column("ethnicity")})
    per_identity = frame.groupby("identity")["role"].apply(lambda r: (r == "gallery").sum())
    assert set(per_identity.unique()) == {0, 1}  # enrolled with one sample, or held out
    held_out = per_identity[per_identity == 0].index
    groups = frame.drop_duplicates("identity").set_index("identity")
    counts = groups.loc[held_out].groupby(["gender", "ethnicity"]).size()
    assert (counts == 10).all() and len(counts) == 6  # 25 % of 40 identities in every group
    again = synthetic.search_roles(es, nonmated_share=0.25, gallery_samples=1, random_state=3)
    assert np.array_equal(roles, again)
    assert not np.array_equal(roles, synthetic.search_roles(es, nonmated_share=0.25, random_state=4))


def test_search_roles_rejects_a_non_embedding_set_and_bad_shares():
    with pytest.raises(fairaudit.FairauditInputError, match="not an EmbeddingSet"):
        synthetic.search_roles(np.zeros((3, 2)))
    es = synthetic.population("diveface", n_identities=4, samples_per_identity=2, dim=16)
    with pytest.raises(fairaudit.FairauditInputError, match="nonmated_share"):
        synthetic.search_roles(es, nonmated_share=1.0)


def test_identification_audit_finds_the_planted_1n_orders():
    es = synthetic.population("diveface", n_identities=300, samples_per_identity=4)
    roles = synthetic.search_roles(es)
    r = fairaudit.identification_audit(es, by=["gender", "ethnicity"], gallery=roles, threshold="fpir=0.05",
                                       n_boot=0)
    planted = synthetic.planted("diveface").set_index("group")
    fnir = r.by_group.set_index("label")["fnir"]
    # FNIR follows the planted FNMR order exactly at this size
    assert list(fnir.sort_values(ascending=False).index) == list(planted["fnir_rank"].sort_values().index)
    # FPIR: the planted top group (most similar identities) has the highest FPIR
    fpir = r.by_group.set_index("label")["fpir"]
    assert fpir.idxmax() == planted["fpir_rank"].idxmin()
    # crowding: a group's own identities are over-represented at the top of its non-mated lists,
    # most where identities are planted most alike
    lift = np.diag(r.landing_matrix("top_k_lift").to_numpy())
    own = pd.Series(lift, index=r.landing_matrix().index)
    assert (own > 1).all()
    assert own.idxmax() == planted["fpir_rank"].idxmin()
    from scipy.stats import spearmanr

    assert spearmanr(own[planted.index], -planted["fpir_rank"]).statistic > 0.8
    assert es.metadata["planted"]["crowding_order"] == list(planted["fpir_rank"].sort_values().index)
