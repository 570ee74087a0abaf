"""Mitigation what-ifs (``verification_what_if``): the identity-disjoint split, thresholds and Z-norm
statistics against brute force on the materialised development scores, the evaluation against the
audit, determinism, JSON, the figure and hostile inputs."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import synthetic
from fairaudit.verification import whatif
from fairaudit.verification.grid import DEFAULT_BIN_WIDTH
from fairaudit.verification.whatif import Z_SCALE, verification_what_if
from fairaudit.verification.whatif_plots import before_after

BY = ["gender", "ethnicity"]
TARGET = 1e-3
W = DEFAULT_BIN_WIDTH


@pytest.fixture(scope="module")
def pop():
    return synthetic.population("diveface", n_identities=60, samples_per_identity=4)


@pytest.fixture(scope="module")
def thresholds(pop):
    return verification_what_if(pop, by=BY, method="group-thresholds", n_boot=50, random_state=3)


@pytest.fixture(scope="module")
def znorm(pop):
    return verification_what_if(pop, by=BY, method="group-znorm", n_boot=50, random_state=3)


def _side(pop, result, side):
    """The samples of one side of the split, as the result assigned them."""
    mine = result.assignment.index[result.assignment["side"] == side]
    return pop.subset(np.flatnonzero(np.isin(pop.identity, mine)))


def _pairs(es):
    """Every pair of samples: scores (float64), genuine flag, the two samples' group labels (categorical,
    so that comparing them with a label is fast)."""
    x = es.normalized().astype(np.float64)
    i, j = np.triu_indices(len(es), 1)
    label = pd.Categorical([f"{g} & {e}" for g, e in zip(es.column("gender"), es.column("ethnicity"))])
    ident = pd.factorize(es.identity)[0]
    return np.einsum("ij,ij->i", x[i], x[j]), ident[i] == ident[j], label[i], label[j]


def _fmr(imp, t):
    return np.mean(imp >= t)


def _by_label(frame, stage):
    part = frame.loc[stage]
    return part.set_index("label")


# --------------------------------------------------------------------------
def test_split_is_identity_disjoint_stratified_and_seeded(pop, thresholds):
    a = thresholds.assignment
    assert a.index.is_unique and set(a.index) == set(pop.identity)
    assert set(a["side"]) == {"development", "evaluation"}
    counts = a.groupby(["label", "side"]).size().unstack()
    assert (counts["development"] == 30).all() and (counts["evaluation"] == 30).all()
    # each identity's group label is its own
    first = pd.Series(pop.column("gender"), index=pop.identity).groupby(level=0).first()
    eth = pd.Series(pop.column("ethnicity"), index=pop.identity).groupby(level=0).first()
    assert (a["label"] == (first + " & " + eth).loc[a.index]).all()
    # every comparison joining the sides is counted, and used by neither
    n_dev = int(np.isin(pop.identity, a.index[a["side"] == "development"]).sum())
    assert thresholds.params["n_comparisons_unused"] == n_dev * (len(pop) - n_dev)
    # the by_group counts are those of each side only
    before = _by_label(thresholds.by_group, "before")
    ev, dev = _side(pop, thresholds, "evaluation"), _side(pop, thresholds, "development")
    for es, n_col, g_col in ((ev, "n_identities", "n_genuine"), (dev, "n_identities_dev", "n_genuine_dev")):
        score, genuine, la, lb = _pairs(es)
        for label, row in before.iterrows():
            assert row[n_col] == 30
            assert row[g_col] == int(np.sum(genuine & (la == label)))
    other = verification_what_if(pop, by="gender", n_boot=0, random_state=4).assignment
    assert not other["side"].equals(a["side"])  # another seed, another split


def test_each_group_threshold_meets_the_target_on_development(pop, thresholds):
    score, genuine, la, lb = _pairs(_side(pop, thresholds, "development"))
    t0 = thresholds.params["global_threshold_dev"]
    pooled = score[~genuine]
    assert _fmr(pooled, t0) <= TARGET < _fmr(pooled, t0 - W)  # the lowest grid edge meeting it
    after = _by_label(thresholds.by_group, "after")
    for label, row in after.iterrows():
        imp = score[~genuine & (la == label) & (lb == label)]
        t = row["threshold"]
        assert _fmr(imp, t) <= TARGET < _fmr(imp, t - W), label
        assert row["dev_fmr"] == pytest.approx(_fmr(imp, t))
        gen = score[genuine & (la == label)]
        assert row["dev_fnmr"] == pytest.approx(np.mean(gen < t))
    assert (thresholds.fitted["source"] == "group").all()
    assert np.allclose(thresholds.fitted["threshold"].to_numpy(), after["threshold"].to_numpy())


def test_group_thresholds_bring_the_evaluation_fmrs_closer_together(thresholds):
    planted = synthetic.planted("diveface").set_index("group")
    before, after = _by_label(thresholds.by_group, "before"), _by_label(thresholds.by_group, "after")
    # the preset plants FMR differences: the global threshold shows them on the held-out identities
    top = planted["fmr_rank"].idxmin()
    assert before["fmr"].idxmax() == top
    spread = lambda s: s.max() - s.min()  # noqa: E731
    assert spread(after["fmr"]) < spread(before["fmr"]) / 3
    assert after.loc[top, "fmr"] < before.loc[top, "fmr"]
    change = thresholds.changes.set_index(["label", "metric"]).loc[(top, "fmr")]
    assert change["difference_ci_high"] < 0  # a paired interval that excludes no change
    assert np.isnan(thresholds.overall.loc["after", "fmr"])  # cross-group comparisons: no group threshold


def test_before_is_the_audit_of_the_evaluation_identities_at_the_development_threshold(pop, thresholds):
    ev = _side(pop, thresholds, "evaluation")
    boot = np.random.default_rng(np.random.SeedSequence(3).spawn(2)[1])  # the documented bootstrap stream
    audit = fairaudit.verification_audit(ev, by=BY, threshold=thresholds.params["global_threshold_dev"],
                                         n_boot=50, random_state=boot, n_perm=0)
    before = thresholds.by_group.loc["before"]
    columns = ["fmr", "fnmr", "n_genuine", "n_impostor", "fmr_ci_low", "fmr_ci_high", "fnmr_ci_low", "fnmr_ci_high"]
    assert np.allclose(before[columns].to_numpy(float), audit.by_group[columns].to_numpy(float), equal_nan=True)
    assert (before["fmr_ci_method"] == audit.by_group["fmr_ci_method"]).all()
    assert thresholds.overall.loc["before", "fmr"] == pytest.approx(audit.overall["fmr"])
    fair = thresholds.fairness.loc["before"]  # the audit may add figures of its own: compare the shared ones
    assert np.allclose(fair["value"], audit.fairness.loc[fair.index, "value"], equal_nan=True)


def test_znorm_statistics_and_threshold_match_numpy(pop, znorm):
    score, genuine, la, lb = _pairs(_side(pop, znorm, "development"))
    fitted = znorm.fitted
    assert len(fitted) == 21 and (fitted["source"] == "group pair").all()
    mu, sd = {}, {}
    for _, row in fitted.iterrows():
        pair = ~genuine & (((la == row["group_a"]) & (lb == row["group_b"])) |
                           ((la == row["group_b"]) & (lb == row["group_a"])))
        assert row["n_impostor_dev"] == int(pair.sum())
        assert row["mean"] == pytest.approx(np.mean(score[pair]), rel=1e-9)
        assert row["sd"] == pytest.approx(np.std(score[pair]), rel=1e-9)
        mu[row["group_a"], row["group_b"]] = mu[row["group_b"], row["group_a"]] = row["mean"]
        sd[row["group_a"], row["group_b"]] = sd[row["group_b"], row["group_a"]] = row["sd"]
    pair = pd.MultiIndex.from_arrays([la, lb])
    m = pd.Series(mu).reindex(pair).to_numpy()
    s = pd.Series(sd).reindex(pair).to_numpy()
    u = np.tanh((score - m) / s / Z_SCALE)
    t = np.tanh(znorm.overall.loc["after", "threshold"] / Z_SCALE)  # back on the audited scale
    assert _fmr(u[~genuine], t) <= TARGET < _fmr(u[~genuine], t - W)
    after = _by_label(znorm.by_group, "after")
    for label, row in after.iterrows():
        assert row["dev_fmr"] == pytest.approx(_fmr(u[~genuine & (la == label) & (lb == label)], t))
    before = _by_label(znorm.by_group, "before")
    assert after["fmr"].max() - after["fmr"].min() < before["fmr"].max() - before["fmr"].min()


def test_the_score_set_route_gives_the_embedding_route_numbers():
    es = synthetic.population("diveface", n_identities=12, samples_per_identity=3, random_state=1)
    x = es.normalized().astype(np.float64)
    i, j = np.triu_indices(len(es), 1)
    attrs = es.attributes
    ss = fairaudit.ScoreSet.from_arrays(np.einsum("ij,ij->i", x[i], x[j]), identity_a=es.identity[i],
                                        identity_b=es.identity[j], attributes_a=attrs.iloc[i].reset_index(drop=True),
                                        attributes_b=attrs.iloc[j].reset_index(drop=True))
    for method in whatif.METHODS:
        a = verification_what_if(es, by=BY, method=method, target={"fnmr": 0.1}, n_boot=30)
        b = verification_what_if(ss, by=BY, method=method, target="fnmr=0.1", n_boot=30)
        assert a.assignment.equals(b.assignment)
        cols = ["threshold", "fmr", "fnmr", "fmr_ci_low", "fmr_ci_high", "fnmr_ci_low", "fnmr_ci_high", "dev_fnmr"]
        assert np.allclose(a.by_group[cols].to_numpy(float), b.by_group[cols].to_numpy(float), equal_nan=True)
        assert (a.by_group.loc["after", "dev_fnmr"] <= 0.1).all() if method == "group-thresholds" else True
        assert b.params["route"] == "scores" and a.params["route"] == "embeddings"


def test_fnmr_target_thresholds_are_the_highest_meeting_it(pop):
    r = verification_what_if(pop, by="ethnicity", target={"fnmr": 0.05}, n_boot=0)
    score, genuine, la, lb = _pairs(_side(pop, r, "development"))
    eth = la.map(lambda x: x.split(" & ")[1])
    for label, row in _by_label(r.by_group, "after").iterrows():
        gen = score[genuine & (eth == label)]
        assert np.mean(gen < row["threshold"]) <= 0.05 < np.mean(gen < row["threshold"] + W)
    assert r.by_group["fmr_ci_low"].isna().all() and r.changes["difference_ci_low"].isna().all()  # n_boot=0


def test_the_same_seed_gives_the_same_result(pop, thresholds):
    again = verification_what_if(pop, by=BY, method="group-thresholds", n_boot=50, random_state=3)
    one, two = thresholds.to_dict(), again.to_dict()
    one.pop("provenance"), two.pop("provenance")
    assert one == two


def test_json_round_trip(tmp_path, znorm):
    path = tmp_path / "whatif.json"
    znorm.to_json(path)
    back = fairaudit.WhatIfResult.from_json(path)
    for name in ("by_group", "overall", "fairness", "changes", "fitted", "assignment"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(znorm, name))
    assert back.notes == znorm.notes and back.params == znorm.params and back.by == znorm.by
    assert back.summary() == znorm.summary()
    with pytest.raises(fairaudit.FairauditInputError, match="expected 'verification_what_if'"):
        fairaudit.WhatIfResult.from_dict({"kind": "verification"})


def test_notes_say_what_deploying_implies_and_what_was_not_evaluated(thresholds, znorm):
    for result, what in ((thresholds, "threshold per group"), (znorm, "normalising every score")):
        first = result.notes[0]
        assert first.startswith("Deployment:") and what in first
        assert "gender, ethnicity" in first and "disparate treatment" in first and "changes nothing" in first
        assert any("identity-disjoint" in n for n in result.notes)
    assert any("no pooled FMR" in n for n in thresholds.notes)
    text = thresholds.summary()
    assert "FMR before" in text and "Deployment:" in text and "all (before)" in text


def test_the_figure_shows_both_stages_with_intervals(thresholds):
    fig = before_after(thresholds)
    fmr_ax, fnmr_ax = fig.axes[:2]
    assert fmr_ax.get_yscale() == "log"  # FMRs span decades on this population
    assert [line.get_gid() for line in fmr_ax.get_lines() if line.get_gid() == "target"] == ["target"]
    drawn = {(c.lines[0].get_gid(), c.get_label()) for c in fmr_ax.containers}  # marker line, group label
    assert {("fmr before", "M & A"), ("fmr after", "M & A")} <= drawn
    assert len(fmr_ax.containers) == 11  # 6 groups x 2 stages, less the FMR of 0 off the log axis
    assert thresholds.plot(groups=["M & A"], log=False).axes[0].get_yscale() == "linear"
    with pytest.raises(fairaudit.FairauditInputError, match="not a group"):
        before_after(thresholds, groups=["nobody"])
    with pytest.raises(fairaudit.FairauditInputError, match="WhatIfResult"):
        before_after(object())


# --------------------------------------------------------------------------
# hostile inputs
def _people(groups, n=6, samples=3, seed=0, name="team"):
    """A small EmbeddingSet: ``n`` identities per value of ``groups``."""
    rng = np.random.default_rng(seed)
    ids = [f"{g}{k}" for g in groups for k in range(n if not isinstance(n, dict) else n[g])]
    centres = rng.standard_normal((len(ids), 16))
    x = np.repeat(centres, samples, axis=0) + 0.5 * rng.standard_normal((len(ids) * samples, 16))
    return fairaudit.EmbeddingSet(x, identity=np.repeat(ids, samples),
                                  attributes={name: np.repeat([i.rstrip("0123456789") for i in ids], samples)})


def test_a_group_with_one_identity_is_refused_with_the_fix():
    es = _people(["a", "b"], n={"a": 6, "b": 1})
    with pytest.raises(fairaudit.FairauditInputError, match=r"group 'b' has 1 identity.*at least 4.*Fix:"):
        verification_what_if(es, by="team", n_boot=0)


@pytest.mark.parametrize("target", [{"fmr": 0}, {"fmr": 1.5}, {"fmr": -1e-3}, {"far": 1e-3}, {"frr": 0.1},
                                    "fmr=abc", 1e-3, {"fmr": True}, {"fmr": 1e-3, "fnmr": 0.1}, "eer"])
def test_a_bad_target_is_refused(target):
    with pytest.raises(fairaudit.FairauditInputError, match=r"target=.*FAR and FRR are not accepted.*Fix:"):
        verification_what_if(_people(["a", "b"]), by="team", target=target)


@pytest.mark.parametrize("kwargs, match", [
    ({"method": "faircal"}, r"method='faircal' is not a mitigation what-if; available: \['group-thresholds'"),
    ({"method": None}, "method=None"),
    ({"dev_share": 1.0}, "dev_share=1.0 must be a number strictly between 0 and 1"),
    ({"dev_share": True}, "dev_share=True"),
    ({"max_comparisons": 0}, "max_comparisons=0 must be an integer"),
    ({"n_boot": 5}, "n_boot=5"),
    ({"random_state": -1}, "random_state=-1"),
    ({"by": "height"}, "by='height' is not an attribute"),
])
def test_bad_options_are_refused(kwargs, match):
    with pytest.raises(fairaudit.FairauditInputError, match=match):
        verification_what_if(_people(["a", "b"]), **{"by": "team", **kwargs})


def test_bad_data_and_a_memory_bound_are_refused(pop):
    with pytest.raises(fairaudit.FairauditInputError, match="data must be a fairaudit.EmbeddingSet"):
        verification_what_if(np.zeros((4, 4)), by="team")
    with pytest.raises(fairaudit.FairauditInputError,
                       match=r"max_comparisons=1,000: method='group-znorm' lists every comparison.*517,680 here"):
        verification_what_if(pop, by=BY, method="group-znorm", max_comparisons=1000)
    # the bound is about listing comparisons: group thresholds stream them
    assert verification_what_if(pop, by="gender", max_comparisons=1000, n_boot=0).method == "group-thresholds"


def _scores_without_impostors_in(group: str):
    """Six people in each of x, y, z; every genuine comparison; impostor comparisons within x and y and
    across groups, none within ``group``."""
    rng = np.random.default_rng(5)
    people = {f"{g}{k}": g for g in "xyz" for k in range(6)}
    rows = []
    for a in people:
        rows += [(a, a, 0.8 + 0.1 * rng.random())] * 2
        for b in people:
            if a < b and not (people[a] == people[b] == group):
                rows.append((a, b, 0.3 * rng.random()))
    table = pd.DataFrame(rows, columns=["identity_a", "identity_b", "score"])
    ident = pd.DataFrame({"team": list(people.values())}, index=pd.Index(list(people), name="identity"))
    return fairaudit.ScoreSet.from_identity_table(table, ident)


def test_a_score_set_with_no_impostor_comparison_in_a_group_says_so():
    ss = _scores_without_impostors_in("z")
    r = verification_what_if(ss, by="team", n_boot=30)
    fitted = r.fitted.set_index("label")
    assert fitted.loc["z", "source"].startswith("global") and fitted.loc["x", "source"] == "group"
    assert fitted.loc["z", "threshold"] == r.params["global_threshold_dev"]
    after = _by_label(r.by_group, "after")
    assert np.isnan(after.loc["z", "fmr"]) and np.isfinite(after.loc["z", "fnmr"])
    assert any("'z' has no impostor comparison among its development identities" in n for n in r.notes)
    assert any("'z' has no impostor comparison among its evaluation identities" in n for n in r.notes)
    assert r.fairness.loc[("after", "fdr"), "reason"].endswith("(groups excluded for lack of pairs: 'z')")
    z = verification_what_if(ss, by="team", method="group-znorm", n_boot=30)
    pooled = z.fitted[z.fitted["source"] == "pooled"]
    assert list(zip(pooled["group_a"], pooled["group_b"])) == [("z", "z")]
    assert any("'z' x 'z' have fewer than 2 development impostor" in n for n in z.notes)


def test_a_score_set_whose_sides_have_no_impostor_comparison_is_refused():
    ss = fairaudit.ScoreSet.from_arrays([0.9, 0.8, 0.9, 0.8, 0.1], identity_a=["a", "b", "c", "d", "a"],
                                        identity_b=["a", "b", "c", "d", "b"],
                                        attributes_a={"team": ["t"] * 5}, attributes_b={"team": ["t"] * 5})
    with pytest.raises(fairaudit.FairauditInputError, match="have no impostor comparison among themselves"):
        verification_what_if(ss, by="team", n_boot=0, random_state=0)


def test_out_of_range_scores_are_refused():
    ss = _scores_without_impostors_in("z")
    table = ss.table
    table["score"] *= 100
    with pytest.raises(fairaudit.FairauditInputError, match=r"lie outside \[-1, 1\]"):
        verification_what_if(fairaudit.ScoreSet(table), by="team")


def test_groups_named_all_and_with_dollars_stay_apart_from_the_pooled_row():
    es = _people(["all", "cost $5 $"], n=8)
    r = verification_what_if(es, by="team", method="group-thresholds", n_boot=30)
    labels = list(r.by_group.loc["before", "label"])
    assert labels == ['"all"', '"cost $5 $"'] and list(r.overall["label"]) == ["all", "all"]
    assert '"all"' in r.summary()
    back = fairaudit.WhatIfResult.from_json(r.to_json())
    assert list(back.by_group.loc["after", "label"]) == labels
    fig = before_after(r)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == ['"all"', r'"cost \$5 \$"']  # drawn literally, not as mathtext
    fig.savefig(io.BytesIO(), format="png")  # and it renders
