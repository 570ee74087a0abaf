"""Several systems side by side: per-system audits, the shared identity bootstrap, paired
differences, the leaderboard, and refusals of systems that do not cover the same samples."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit.common.errors import FairauditInputError
from fairaudit.systems import bootstrap_pvalue, pareto_front

BY = ["gender", "ethnicity"]


@pytest.fixture(scope="module")
def two():
    a = fairaudit.synthetic.population("diveface", n_identities=30, samples_per_identity=4, random_state=2)
    # system B: the same samples, noisier embeddings (another extractor)
    rng = np.random.default_rng(7)
    x = a.embeddings + 0.6 * rng.standard_normal(a.embeddings.shape).astype(np.float32) / np.sqrt(a.n_features)
    b = fairaudit.EmbeddingSet(x, identity=a.identity, attributes=a.attributes, value_labels=a.value_labels)
    return a, b


@pytest.fixture(scope="module")
def comparison(two):
    a, b = two
    return fairaudit.compare_systems({"A": a, "B": b}, by=BY, threshold="fmr=1e-2", n_boot=300, random_state=4)


def test_each_system_is_its_own_audit(two, comparison):
    a, b = two
    for name, data in (("A", a), ("B", b)):
        alone = fairaudit.verification_audit(data, by=BY, threshold="fmr=1e-2", n_boot=300, n_perm=0,
                                             random_state=4)
        got = comparison.audits[name]
        assert got.threshold == alone.threshold
        pd.testing.assert_frame_equal(got.by_group, alone.by_group)
        rows = comparison.by_group[comparison.by_group["system"] == name]
        assert (rows["threshold"] == alone.threshold).all()
        assert rows["fnmr"].tolist() == alone.by_group["fnmr"].tolist()
    assert comparison.audits["A"].threshold != comparison.audits["B"].threshold  # each its own


def test_a_system_against_itself_differs_by_exactly_zero(two):
    a, _ = two
    c = fairaudit.compare_systems({"A": a, "A again": a}, by=BY, threshold="fmr=1e-2", n_boot=100)
    d = c.differences
    finite = d["difference"].notna()
    assert (d.loc[finite, "difference"] == 0).all()
    # paired replicates: every replicate's difference is 0, so the interval is [0, 0] and p = 1
    ok = d["ci_low"].notna()
    assert ok.sum() > 10
    assert (d.loc[ok, "ci_low"] == 0).all() and (d.loc[ok, "ci_high"] == 0).all()
    assert (d.loc[d["p_value"].notna(), "p_value"] == 1).all()


def _genuine_by_identity(es, threshold):
    """Brute force: genuine comparisons and rejects of every identity, from materialised scores."""
    x = es.embeddings.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    out = {}
    for ident in np.unique(es.identity):
        rows = np.flatnonzero(es.identity == ident)
        s = (x[rows] @ x[rows].T)[np.triu_indices(len(rows), 1)]
        out[ident] = (len(s), int((s < threshold).sum()))
    return out


def test_pooled_fnmr_difference_matches_an_explicit_resampling(two, comparison):
    a, b = two
    n_boot = comparison.params["n_boot"]
    # replicate by replicate, as documented: in every group (group order), m identities drawn
    # uniformly with replacement; the pooled FNMR sums their genuine comparisons
    groups = comparison.audits["A"].by_group.index
    ident_names = np.unique(a.identity)
    key = {i: tuple(a.column(c)[np.flatnonzero(a.identity == i)[0]] for c in BY) for i in ident_names}
    members = [[i for i in ident_names if key[i] == tuple(g)] for g in groups]
    rng = np.random.default_rng(comparison.params["random_state"])
    draws = [rng.integers(0, len(m), size=(n_boot, len(m))) for m in members]
    per = {name: _genuine_by_identity(es, comparison.audits[name].threshold) for name, es in (("A", a), ("B", b))}
    diffs = []
    for rep in range(n_boot):
        value = {}
        for name in ("A", "B"):
            n = r = 0
            for m, d in zip(members, draws):
                for k in d[rep]:
                    gn, gr = per[name][m[k]]
                    n, r = n + gn, r + gr
            value[name] = r / n
        diffs.append(value["A"] - value["B"])
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    row = comparison.difference("A", "B", "fnmr", "all")
    assert row["ci_low"] == pytest.approx(lo, abs=1e-12)
    assert row["ci_high"] == pytest.approx(hi, abs=1e-12)
    assert row["p_value"] == pytest.approx(bootstrap_pvalue(np.array(diffs)), abs=1e-12)
    # the sign follows the order asked for
    flipped = comparison.difference("B", "A", "fnmr", "all")
    assert flipped["difference"] == -row["difference"]
    assert flipped["ci_low"] == pytest.approx(-hi, abs=1e-12)


def test_differences_are_the_audits_values(comparison):
    for _, row in comparison.differences.iterrows():
        if row["scope"] == "group":
            frame = comparison.audits[row["system_a"]].by_group.set_index("label")
            other = comparison.audits[row["system_b"]].by_group.set_index("label")
            assert row["value_a"] == frame.loc[row["group"], row["metric"]] or np.isnan(row["value_a"])
            assert row["value_b"] == other.loc[row["group"], row["metric"]] or np.isnan(row["value_b"])
        if np.isfinite(row["value_a"]) and np.isfinite(row["value_b"]):
            assert row["difference"] == pytest.approx(row["value_a"] - row["value_b"], abs=1e-15)
    fam = comparison.differences.groupby("family").size()
    assert fam["A vs B: fnmr by group"] == 6
    assert (comparison.differences["p_holm"].dropna() >= comparison.differences["p_value"].dropna()).all()


def test_leaderboard(comparison):
    board = comparison.leaderboard
    assert list(board["system"]) == sorted(board["system"], key=lambda s: board.set_index("system").loc[s, "fnmr"])
    for _, r in board.iterrows():
        audit = comparison.audits[r["system"]]
        assert r["fnmr"] == audit.overall["fnmr"]
        np.testing.assert_equal(r["fnmr_max_min"], audit.fairness.loc["fnmr_max_min", "value"])
        assert r["fnmr_ci_low"] <= r["fnmr"] <= r["fnmr_ci_high"]
    assert board["pareto"].any()
    text = comparison.summary()
    assert "pareto" in text and "each system at its own threshold" in text


def test_pareto_front_by_hand():
    acc = np.array([0.1, 0.2, 0.3, 0.1, np.nan])
    unfair = np.array([5.0, 2.0, 1.0, 6.0, 0.5])
    # 0 dominates 3 (same accuracy, fairer); 1 and 2 trade off; NaN is never on the front
    assert pareto_front(acc, unfair).tolist() == [True, True, True, False, False]


def test_bootstrap_pvalue_by_hand():
    assert bootstrap_pvalue(np.array([1.0, 2.0, 3.0])) == pytest.approx(2 * 1 / 4)  # 0 below, +1
    assert bootstrap_pvalue(np.array([-1.0, 1.0, 2.0, 3.0])) == pytest.approx(2 * 2 / 5)
    assert bootstrap_pvalue(np.zeros(5)) == 1.0
    assert np.isnan(bootstrap_pvalue(np.array([np.nan, 1.0])))


def test_json_round_trip(comparison, tmp_path):
    path = tmp_path / "cmp.json"
    comparison.to_json(path)
    back = fairaudit.SystemComparison.from_json(path)
    assert back.systems == comparison.systems
    pd.testing.assert_frame_equal(back.differences, comparison.differences, check_dtype=False)
    assert back.audits["B"].threshold == comparison.audits["B"].threshold
    assert back.summary() == comparison.summary()


def test_score_sets_of_the_same_comparisons(two):
    a, b = two

    def listed(es):
        x = es.normalized().astype(np.float64)
        i, j = np.triu_indices(len(es), 1)
        s = np.einsum("ij,ij->i", x[i], x[j])
        return fairaudit.ScoreSet.from_arrays(
            np.clip(s, -1, 1), identity_a=es.identity[i], identity_b=es.identity[j],
            attributes_a={c: es.column(c)[i] for c in BY}, attributes_b={c: es.column(c)[j] for c in BY})

    sa, sb = listed(a), listed(b)
    c = fairaudit.compare_systems({"A": sa, "B": sb}, by=BY, threshold="fmr=1e-2", n_boot=50)
    assert c.params["kind"] == "ScoreSet"
    assert set(c.leaderboard["system"]) == {"A", "B"}
    shuffled = fairaudit.ScoreSet(sb.table.iloc[::-1].reset_index(drop=True))
    with pytest.raises(FairauditInputError, match="do not cover the same comparisons"):
        fairaudit.compare_systems({"A": sa, "B": shuffled}, by=BY, n_boot=50)


def test_refusals(two):
    a, b = two
    with pytest.raises(FairauditInputError, match="at least two"):
        fairaudit.compare_systems({"A": a}, by=BY)
    with pytest.raises(FairauditInputError, match="must be a dict"):
        fairaudit.compare_systems([a, b], by=BY)
    with pytest.raises(FairauditInputError, match="non-empty string"):
        fairaudit.compare_systems({"A": a, 3: b}, by=BY)
    with pytest.raises(FairauditInputError, match="by= must name"):
        fairaudit.compare_systems({"A": a, "B": b}, by=None)
    with pytest.raises(FairauditInputError, match="not a fairness figure"):
        fairaudit.compare_systems({"A": a, "B": b}, by=BY, figure="accuracy")
    with pytest.raises(FairauditInputError, match="n_boot"):
        fairaudit.compare_systems({"A": a, "B": b}, by=BY, n_boot=0)
    with pytest.raises(FairauditInputError, match="random_state"):
        fairaudit.compare_systems({"A": a, "B": b}, by=BY, random_state=np.random.default_rng(0))
    with pytest.raises(FairauditInputError, match="720 against 719 rows"):
        fairaudit.compare_systems({"A": a, "B": b.subset(np.arange(len(b) - 1))}, by=BY)
    order = np.r_[1, 0, np.arange(2, len(b))]
    swapped = b.subset(order)
    if swapped.identity[0] != a.identity[0]:
        with pytest.raises(FairauditInputError, match="row 0 is identity"):
            fairaudit.compare_systems({"A": a, "B": swapped}, by=BY)
    attrs = a.attributes.copy()
    attrs.loc[attrs.index[:4], "ethnicity"] = "X"  # one identity relabelled
    relabelled = fairaudit.EmbeddingSet(b.embeddings, identity=b.identity, attributes=attrs)
    with pytest.raises(FairauditInputError, match="attribute 'ethnicity' of row 0"):
        fairaudit.compare_systems({"A": a, "B": relabelled}, by=BY)
    scores = fairaudit.ScoreSet.from_arrays([0.9, 0.1], identity_a=["p", "p"], identity_b=["p", "q"],
                                            attributes_a={"g": ["x", "x"]}, attributes_b={"g": ["x", "y"]})
    with pytest.raises(FairauditInputError, match="different kinds"):
        fairaudit.compare_systems({"A": a, "B": scores}, by=BY)


def test_few_replicates_are_said_to_be_unable_to_show_a_difference(two):
    a, b = two
    c = fairaudit.compare_systems({"A": a, "B": b}, by=BY, threshold="fmr=1e-2", n_boot=20)
    assert any("smallest bootstrap p-value" in n for n in c.notes)


def test_cli_compare(two, tmp_path, capsys):
    from fairaudit.cli import main

    a, b = two
    pa, pb = tmp_path / "a.npz", tmp_path / "b.npz"
    a.save(pa)
    b.save(pb)
    out = tmp_path / "cmp.json"
    rc = main(["compare", str(pa), str(pb), "--name", "dlib", "--name", "pixels", "--by", "gender", "--by",
               "ethnicity", "--fmr", "1e-2", "--n-boot", "60", "--json", str(out), "--plots", str(tmp_path / "p")])
    assert rc == 0
    text = capsys.readouterr().out
    assert "Comparison of 2 systems" in text and "dlib" in text and "pixels" in text
    back = fairaudit.SystemComparison.from_json(out)
    assert back.systems == ("dlib", "pixels")
    assert sorted(p.name for p in (tmp_path / "p").iterdir()) == ["compare_accuracy_fairness.png",
                                                                    "compare_det_by_group.png"]
    # names default to the files' stems; a count mismatch is refused before any work
    assert main(["compare", str(pa), str(pb), "--name", "only-one", "--by", "gender"]) == 2
    assert "one name per file" in capsys.readouterr().err
    assert main(["compare", str(pa), str(pa), "--by", "gender"]) == 2
    assert "not distinct" in capsys.readouterr().err
    assert main(["compare", str(pa), str(pb), "--by", "gender", "--reference-group", "M"]) == 2
    assert "needs an FMR target" in capsys.readouterr().err


def test_plots_draw_user_names_literally(comparison):
    import matplotlib

    matplotlib.use("Agg")
    from fairaudit.systems import plots

    c = comparison
    fig = plots.det_by_group(c)
    fig.canvas.draw()
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert "everyone (pooled)" in titles and len(titles) == 7
    ax = plots.accuracy_fairness(c)
    assert [line.get_gid() for line in ax.lines].count("pareto front") <= 1
    with pytest.raises(FairauditInputError, match="not groups of this comparison"):
        plots.det_by_group(c, groups=["nope"])


def test_groups_with_few_identities_get_no_p_value():
    a = fairaudit.synthetic.population("diveface", n_identities={"H & A": 5}, samples_per_identity=4, random_state=1)
    rng = np.random.default_rng(3)
    x = a.embeddings + 0.5 * rng.standard_normal(a.embeddings.shape).astype(np.float32) / np.sqrt(a.n_features)
    b = fairaudit.EmbeddingSet(x, identity=a.identity, attributes=a.attributes)
    c = fairaudit.compare_systems({"A": a, "B": b}, by=BY, threshold="fmr=1e-2", n_boot=200, min_identities=30)
    d = c.differences
    small = d[(d["scope"] == "group") & (d["group"] == "H & A")]
    assert len(small) == 3 and small["p_value"].isna().all() and small["ci_low"].isna().all()
    assert small["difference"].notna().any()  # the point estimates stay
    big = d[(d["scope"] == "group") & (d["group"] == "M & B")]
    assert big["p_value"].notna().all()
    assert d.loc[d["scope"] == "fairness", "p_value"].isna().all()
    assert any("fewer than 30 identities" in n for n in c.notes)
    assert "nan" not in c.summary().split("Note:")[0]
