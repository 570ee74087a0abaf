"""Hostile input to the 1:N identification audit: every bad argument is a FairauditInputError that
names the argument and says how to fix it; degenerate protocols (no mated search, a group of one
identity, two identities, a group named like the pooled label) give notes and NaN, not a crash."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import FairauditInputError, synthetic
from fairaudit.data.groups import POOLED
from fairaudit.identification import CandidateLists, GallerySplit, IdentificationResult

sys.path.insert(0, str(Path(__file__).parent))
from test_identification import FAST, embedding_set, exact_population, tie_lists  # noqa: E402

A = fairaudit.identification_audit


@pytest.fixture(scope="module")
def pop():
    x, identity, group, role = exact_population(n_ids=20, seed=2, dim=8)
    return embedding_set(x, identity, group), role, identity, group, x


def raises(fragment, fn, *args, **kwargs):
    with pytest.raises(FairauditInputError, match=fragment) as info:
        fn(*args, **kwargs)
    assert "Fix:" in str(info.value)
    return str(info.value)


# --------------------------------------------------------------------------
# threshold, rank, k
# --------------------------------------------------------------------------
@pytest.mark.parametrize("threshold", ["eer", "fmr=1e-3", float("nan"), float("inf"), True, "0.4", None,
                                       {"fmr": 1e-3}, {"fpir": 0.1, "x": 1}])
def test_threshold_that_is_not_a_1n_policy(pop, threshold):
    es = pop[0]
    msg = raises(r"is not a 1:N threshold policy", A, es, by="group", threshold=threshold)
    assert "threshold=" in msg and "fpir=" in msg


@pytest.mark.parametrize("threshold", ["fpir=2", "fpir=0", "fpir=abc", {"fpir": 1.0}, {"FPIR": -0.1}])
def test_fpir_target_out_of_range(pop, threshold):
    msg = raises(r"the FPIR target .* must be a number in \(0, 1\)", A, pop[0], by="group", threshold=threshold)
    assert "threshold='fpir=1e-2'" in msg


@pytest.mark.parametrize("threshold", [5.0, -1.5, 42])
def test_fixed_threshold_outside_the_cosine_range(pop, threshold):
    msg = raises(r"must lie in \[-1, 1\]", A, pop[0], by="group", threshold=threshold)
    assert f"threshold={threshold!r}" in msg
    # the advice is a 1:N policy, not verification's EER or FMR
    assert "fpir=" in msg and "eer" not in msg and "fmr" not in msg.lower()


def test_fixed_threshold_outside_the_cosine_range_is_fine_for_candidate_lists():
    r = A(tie_lists(), by="grp", threshold=5.0, k=3, **FAST)
    assert r.overall["fpir"] == 0.0 and r.overall["fnir"] == 1.0


@pytest.mark.parametrize("kw,fragment", [
    (dict(rank=5, k=3), r"rank=5 must be an integer in \[1, k\] \(k=3\)"),
    (dict(rank=0), r"rank=0 must be an integer in \[1, k\]"),
    (dict(rank=1.0), r"rank=1.0 must be an integer"),
    (dict(rank=True), r"rank=True must be an integer"),
    (dict(k=0), r"k=0 must be an integer in \[1, 1000\]"),
    (dict(k=1001), r"k=1001 must be an integer in \[1, 1000\]"),
    (dict(k=2.5), r"k=2.5 must be an integer"),
    (dict(gallery_tile=0), r"gallery_tile=0 must be a positive integer"),
    (dict(probe_block=-3), r"probe_block=-3 must be a positive integer"),
])
def test_bad_rank_k_and_tiles(pop, kw, fragment):
    raises(fragment, A, pop[0], by="group", threshold=0.5, **kw)


def test_bad_by_and_data(pop):
    raises(r"by='nope' is not an attribute", A, pop[0], by="nope", threshold=0.5)
    raises(r"data is a ndarray: identification_audit takes an EmbeddingSet", A, np.zeros((4, 3)), by="group")
    raises(r"data is a DataFrame", A, pd.DataFrame({"a": [1]}), by="group")


# --------------------------------------------------------------------------
# gallery
# --------------------------------------------------------------------------
def test_roles_with_other_values(pop):
    es, role = pop[0], pop[1]
    bad = np.where(role == "gallery", "gallery", "enrol")
    msg = raises(r"gallery: the roles hold \['enrol'\]", A, es, by="group", gallery=bad, threshold=0.5)
    assert f"({int((bad == 'enrol').sum())} such rows, e.g. row {int(np.flatnonzero(bad == 'enrol')[0])})" in msg
    with_none = role.astype(object)
    with_none[3] = None
    raises(r"gallery: the roles hold \['None'\]", A, es, by="group", gallery=with_none, threshold=0.5)


def test_roles_are_read_case_insensitively_and_as_booleans(pop):
    es, role = pop[0], pop[1]
    a = A(es, by="group", gallery=role, threshold=0.5, **FAST)
    b = A(es, by="group", gallery=np.char.upper(role.astype(str)).astype(object) + " ", threshold=0.5, **FAST)
    c = A(es, by="group", gallery=role == "gallery", threshold=0.5, **FAST)
    d = A(es, by="group", gallery=pd.Series(role, index=np.arange(len(role))[::-1]), threshold=0.5, **FAST)
    for other in (b, c, d):
        pd.testing.assert_frame_equal(a.by_group, other.by_group)
        pd.testing.assert_frame_equal(a.cmc, other.cmc)


def test_roles_of_the_wrong_length_or_shape(pop):
    es, role = pop[0], pop[1]
    raises(rf"gallery: {len(role) - 1} roles for {len(role)} samples", A, es, by="group", gallery=role[:-1],
           threshold=0.5)
    raises(r"is not a gallery/probe protocol", A, es, by="group", gallery=np.stack([role, role]), threshold=0.5)


def test_a_column_name_cannot_give_the_roles(pop):
    # roles vary within an identity, attributes cannot: a name (even of an attribute) is refused
    msg = raises(r"gallery='role': a name cannot give the roles", A, pop[0], by="group", gallery="role",
                 threshold=0.5)
    assert "search_roles" in msg
    raises(r"gallery='group': a name cannot give the roles", A, pop[0], by="group", gallery="group",
           threshold=0.5)


@pytest.mark.parametrize("gallery,fragment", [
    ({"share": 0.2}, r"gallery: unknown option\(s\) \['share'\]"),
    ({"nonmated_share": 0.2, "samples": 1, "seed": 3}, r"unknown option\(s\) \['seed'\]"),
    ({"nonmated_share": 1.0}, r"nonmated_share=1.0 is out of range: it must be a number in \[0, 1\)"),
    ({"nonmated_share": -0.1}, r"nonmated_share=-0.1 is out of range"),
    ({"nonmated_share": "0.2"}, r"nonmated_share='0.2' is out of range"),
    ({"nonmated_share": True}, r"nonmated_share=True is out of range"),
    ({"nonmated_share": float("nan")}, r"nonmated_share=nan is out of range"),
    ({"samples": 0}, r"samples=0 is out of range: it must be an integer >= 1"),
    ({"samples": 1.5}, r"samples=1.5 is out of range"),
    (5, r"gallery=5 is not a gallery/probe protocol"),
    (object, r"is not a gallery/probe protocol"),
])
def test_bad_split_options(pop, gallery, fragment):
    raises(fragment, A, pop[0], by="group", gallery=gallery, threshold=0.5)


def test_gallery_split_object_is_checked_on_creation():
    with pytest.raises(FairauditInputError, match=r"nonmated_share=2 is out of range"):
        GallerySplit(nonmated_share=2)


def test_empty_gallery_and_no_probe(pop):
    es = pop[0]
    raises(r"leaves an empty gallery: a 1:N audit needs enrolled identities and probes",
           A, es, by="group", gallery=np.full(len(es), "probe"), threshold=0.5)
    raises(r"leaves no probe", A, es, by="group", gallery=np.full(len(es), "gallery"), threshold=0.5)
    # every identity has one sample: the split enrolls them all, and holds some out
    one = fairaudit.EmbeddingSet(np.eye(6, 8) + 0.1, identity=list("abcdef"), attributes={"g": ["x"] * 6})
    r = A(one, by="g", threshold=0.5, **FAST)
    assert r.overall["n_mated"] == 0 and r.overall["n_nonmated"] >= 1


def test_fpir_target_without_non_mated_searches(pop):
    es = pop[0]
    msg = raises(r"threshold='fpir=1e-2' needs non-mated searches to set the threshold, and the protocol "
                 r"has none", A, es, by="group", gallery={"nonmated_share": 0.0})
    assert "threshold=0.4" in msg
    # a fixed threshold works: FPIR undefined
    r = A(es, by="group", gallery={"nonmated_share": 0.0}, threshold=0.5, **FAST)
    assert math.isnan(r.overall["fpir"]) and r.overall["n_nonmated"] == 0
    assert all(math.isnan(v) for v in r.gallery_size.fpir)
    assert any("has no non-mated search" in n for n in r.notes)


# --------------------------------------------------------------------------
# degenerate protocols and groups
# --------------------------------------------------------------------------
def test_no_mated_probe_gives_notes_and_nan(pop):
    es, _, identity, _, _ = pop
    enrolled = np.unique(identity)[:12]
    role = np.where(np.isin(identity, enrolled), "gallery", "probe")
    r = A(es, by="group", gallery=role, threshold="fpir=0.1", n_boot=30, n_perm=50)
    assert r.overall["n_mated"] == 0 and math.isnan(r.overall["fnir"]) and math.isnan(r.overall["rank1"])
    assert r.by_group.fnir.isna().all() and r.cmc.identification_rate.isna().all()
    assert np.isfinite(r.overall["fpir"]) and r.overall["fpir"] <= 0.1
    assert any("No search is mated" in n for n in r.notes)
    assert r.comparisons[r.comparisons.metric == "fnir"].p_value.isna().all()
    assert not r.fairness.loc["fnir_max_min", "defined"]
    r.summary()  # renders


def test_a_group_named_like_the_pooled_label_stays_distinct(pop):
    es, role, identity, group, x = pop
    renamed = embedding_set(x, identity, np.where(group == "A", POOLED, group))
    r = A(renamed, by="group", gallery=role, threshold=0.5, n_boot=30, n_perm=50)
    labels = r.by_group.label.tolist()
    assert POOLED not in labels and len(set(labels)) == 3
    assert r.overall["label"] == POOLED
    for frame, col in ((r.cmc, "group"), (r.curves, "group"), (r.gallery_size, "group")):
        assert set(frame[col]) == set(labels) | {POOLED}
        assert (frame[col] == POOLED).sum() == len(frame) // 4  # the pooled rows, and only them
    assert set(r.landing.probe_group) == set(labels) == set(r.gallery.label)
    assert set(r.comparisons.group_a) <= set(labels)
    # the group's pooled-looking label carries its own figures, not the pooled ones
    own = r.by_group.set_index("label").loc[f'"{POOLED}"']
    assert own["n_mated"] < r.overall["n_mated"]
    assert r.landing_matrix("n_false_positives").shape == (3, 3)


def test_a_group_of_one_identity(pop):
    es, role, identity, group, x = pop
    solo_id = identity[role == "probe"][0]
    es1 = embedding_set(x, identity, np.where(identity == solo_id, "solo", group))
    for gallery in (None, role):
        r = A(es1, by="group", gallery=gallery, threshold=0.5, n_boot=30, n_perm=50)
        solo = r.by_group.set_index("label").loc["solo"]
        assert solo["n_identities"] == 1 and solo["below_min_identities"]
        assert solo["n_nonmated"] == 0 and math.isnan(solo["fpir"])  # never held out alone
        assert any("'solo' has no non-mated search" in n for n in r.notes)
        assert np.isfinite(solo["fnir"])


def test_two_identities():
    x = np.array([[1, 0, 0, 0], [0.9, 0.1, 0, 0], [0, 1, 0, 0], [0.1, 0.9, 0, 0]], dtype=float)
    es = fairaudit.EmbeddingSet(x, identity=["a", "a", "b", "b"], attributes={"g": ["x", "x", "y", "y"]})
    r = A(es, by="g", threshold=0.5, n_boot=20, n_perm=20)
    assert r.overall["n_mated"] == 2 and r.overall["fnir"] == 0.0 and r.overall["rank1"] == 1.0
    assert r.overall["n_nonmated"] == 0 and math.isnan(r.overall["fpir"])
    raises(r"needs non-mated searches", A, es, by="g")  # one identity per group: none held out
    r = A(es, by="g", gallery=["gallery", "gallery", "probe", "probe"], threshold="fpir=0.5", **FAST)
    assert r.overall["n_nonmated"] == 2 and r.overall["fpir"] <= 0.5
    assert r.params["n_gallery_identities"] == 1
    assert r.gallery_size.gallery_identities.unique().tolist() == [1]


def test_no_bootstrap_gives_nan_intervals_and_no_comparisons(pop):
    es, role = pop[0], pop[1]
    r = A(es, by="group", gallery=role, threshold=0.5, n_boot=0, n_perm=1000)
    assert len(r.comparisons) == 0
    assert list(r.comparisons.columns) == list(A(es, by="group", gallery=role, threshold=0.5, n_boot=20,
                                                   n_perm=20).comparisons.columns)
    for m in ("fnir", "fpir", "rank1"):
        assert r.by_group[f"{m}_ci_low"].isna().all() and r.by_group[f"{m}_ci_high"].isna().all()
        assert math.isnan(r.overall[f"{m}_ci_low"])
        assert (r.by_group[f"{m}_ci_method"] == "").all()
    assert r.fairness.ci_low.isna().all()
    assert "CI" not in r.summary().split("\n")[4]


# --------------------------------------------------------------------------
# candidate lists
# --------------------------------------------------------------------------
@pytest.fixture()
def tables():
    t = tie_lists()
    return t.candidates.copy(), t.searches.copy(), t.gallery.copy()


def test_candidate_lists_unknown_search_and_candidate(tables):
    cand, searches, gallery = tables
    extra = pd.DataFrame([("s99", "a", 0.3)], columns=cand.columns)
    raises(r"candidates: 1 row\(s\) name a search_id not in searches \(e.g. 's99'\)", CandidateLists,
           pd.concat([cand, extra]), searches, gallery)
    stranger = pd.DataFrame([("s1", "zz", 0.3), ("s2", "zz", 0.1)], columns=cand.columns)
    raises(r"candidates: 2 row\(s\) return an identity that is not in gallery \(e.g. 'zz'\)", CandidateLists,
           pd.concat([cand, stranger]), searches, gallery)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf, "high", None])
def test_candidate_lists_bad_scores(tables, value):
    cand, searches, gallery = tables
    cand["score"] = cand["score"].astype(object)
    cand.loc[3, "score"] = value
    raises(r"candidates: 1 score\(s\) are missing or not finite \(e.g. row 3\)", CandidateLists,
           cand, searches, gallery)


def test_candidate_lists_bad_searches(tables):
    cand, searches, gallery = tables
    dup = searches.copy()
    dup.loc[2, "search_id"] = "s1"
    raises(r"searches: search_id 's1' appears 2 times", CandidateLists, cand, dup, gallery)
    for missing in (None, np.nan, "  "):
        s = searches.copy()
        s["identity"] = s["identity"].astype(object)
        s.loc[2, "identity"] = missing
        raises(r"searches: 1 search\(es\) have no identity \(e.g. search_id 's3'\)", CandidateLists,
               cand, s, gallery)
    raises(r"candidates: missing column\(s\) \['score'\]", CandidateLists, cand.drop(columns="score"),
           searches, gallery)
    raises(r"searches: missing column\(s\) \['identity'\]", CandidateLists, cand,
           searches.drop(columns="identity"), gallery)
    raises(r"gallery: missing column\(s\) \['identity'\]", CandidateLists, cand, searches,
           gallery.rename(columns={"identity": "id"}))


def test_candidate_lists_conflicting_attributes(tables):
    cand, searches, gallery = tables
    searches.loc[0, "grp"] = "G2"  # identity a: G1 in the gallery, G2 in a search
    lists = CandidateLists(cand, searches, gallery)
    raises(r"identity 'a' has grp=.* in one table and .* in another", A, lists, by="grp", threshold=0.5)


def test_candidate_lists_other_arguments(tables):
    lists = CandidateLists(*tables)
    raises(r"gallery=\{'samples': 1\} applies to an EmbeddingSet", A, lists, by="grp", gallery={"samples": 1},
           threshold=0.5)
    raises(r"by='eth' is not an attribute", A, lists, by="eth", threshold=0.5)
    raises(r"rank=4 must be an integer in \[1, k\] \(k=3\)", A, lists, by="grp", rank=4, k=3, threshold=0.5)


def test_candidate_lists_empty_gallery_or_no_search(tables):
    cand, searches, gallery = tables
    raises(r"data: the candidate lists have an empty gallery table", A,
           CandidateLists(cand.iloc[0:0], searches, gallery.iloc[0:0]), by="grp", threshold=0.5)
    raises(r"data: the candidate lists have no search", A,
           CandidateLists(cand.iloc[0:0], searches.iloc[0:0], gallery), by="grp", threshold=0.5)


def test_candidate_lists_with_no_candidate_at_all(tables):
    cand, searches, gallery = tables
    r = A(CandidateLists(cand.iloc[0:0], searches, gallery), by="grp", threshold=0.5, k=3, **FAST)
    assert r.overall["fnir"] == 1.0 and r.overall["fpir"] == 0.0 and r.overall["rank1"] == 0.0
    assert (r.landing.n_false_positives == 0).all() and r.landing.top_k_share.isna().all()
    r = A(CandidateLists(cand.iloc[0:0], searches, gallery), by="grp", threshold="fpir=0.3", k=3, **FAST)
    assert r.overall["fpir"] == 0.0


def test_candidate_lists_no_mated_or_no_non_mated_search(tables):
    cand, searches, gallery = tables
    nm = searches[searches.identity.isin(["x", "y"])]
    r = A(CandidateLists(cand[cand.search_id.isin(nm.search_id)], nm, gallery), by="grp",
          threshold="fpir=0.5", n_boot=20, n_perm=20)
    assert math.isnan(r.overall["fnir"]) and r.overall["fpir"] == 0.5
    assert any("No search is mated" in n for n in r.notes)
    mated = searches[~searches.identity.isin(["x", "y"])]
    raises(r"needs non-mated searches", A, CandidateLists(cand[cand.search_id.isin(mated.search_id)], mated,
                                                          gallery), by="grp", threshold="fpir=0.5")


# --------------------------------------------------------------------------
# results: JSON
# --------------------------------------------------------------------------
FRAMES = ("by_group", "cmc", "curves", "gallery", "landing", "gallery_size", "fairness", "comparisons")


def assert_round_trip(r):
    back = IdentificationResult.from_json(r.to_json())
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(r, name), check_index_type=False)
    pd.testing.assert_series_equal(back.overall, r.overall, check_dtype=False)
    assert (back.threshold, back.rank, back.k, back.by, back.protocol, back.notes, back.policy) == \
        (r.threshold, r.rank, r.k, r.by, r.protocol, r.notes, r.policy)
    return back


def test_json_round_trip_of_an_embedding_audit(tmp_path):
    es = synthetic.population("diveface", n_identities=10, samples_per_identity=3, dim=16, random_state=3)
    r = A(es, by=["gender", "ethnicity"], threshold="fpir=0.2", k=4, n_boot=30, n_perm=50)
    assert isinstance(r.by_group.index, pd.MultiIndex)
    back = assert_round_trip(r)
    path = r.to_json(tmp_path / "r.json") and tmp_path / "r.json"
    again = IdentificationResult.from_json(path)
    pd.testing.assert_frame_equal(again.by_group, back.by_group)
    assert json.loads(path.read_text())["kind"] == "identification"
    assert back.summary() == r.summary()


def test_json_round_trip_of_candidate_lists_with_nan():
    r = A(tie_lists(), by="grp", threshold=0.5, k=3, n_boot=20, n_perm=20)
    assert r.landing.share.isna().any() and len(r.gallery_size) == 0
    assert_round_trip(r)
    r0 = A(tie_lists(), by="grp", threshold=0.5, k=3, n_boot=0)
    assert len(assert_round_trip(r0).comparisons) == 0


def test_from_json_of_another_kind():
    raises(r"data has kind='verification', expected 'identification'", IdentificationResult.from_json,
           '{"kind": "verification"}')


def test_to_json_to_an_unwritable_path(tmp_path):
    r = A(tie_lists(), by="grp", threshold=0.5, k=3, **FAST)
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    msg = raises(r"cannot write .*a_file/out.json", r.to_json, blocker / "out.json")
    assert "choose a file path where you can write" in msg
    raises(r"cannot write", r.to_json, tmp_path)  # a directory
    assert blocker.read_text() == "x"
    raises(r"value='fnir' is not a column of landing", r.landing_matrix, "fnir")


def test_from_json_of_a_truncated_result():
    r = A(tie_lists(), by="grp", threshold=0.5, k=3, **FAST)
    data = json.loads(r.to_json())
    del data["landing"], data["k"]
    raises(r"data: the identification result lacks \['k', 'landing'\]", IdentificationResult.from_dict, data)
