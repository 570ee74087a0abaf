"""The covariate audit against brute force: every pair's score materialised with numpy, FNMR and
FMR per bin and cell counted by hand, the bootstrap formulas against weighted sums over the
materialised pairs, totals against the verification audit."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import FairauditInputError
from fairaudit.covariates import CovariateResult, covariate_audit, tables
from fairaudit.covariates.bins import cell_index, digitize

THRESHOLD = 0.33


def _population(seed=0, n_ids=12, group_names=("A", "B"), levels=("p", "q", "mixed")):
    rng = np.random.default_rng(seed)
    ident, group, rows = [], [], []
    for g, name in enumerate(group_names):
        for i in range(n_ids):
            centre = rng.normal(size=16)
            for _ in range(int(rng.integers(2, 5))):
                rows.append(centre + rng.normal(scale=0.9 + 0.3 * g, size=16))
                ident.append(f"{name}{i}")
                group.append(name)
    n = len(rows)
    cov = {"quality": rng.uniform(0, 1, n), "age": rng.integers(18, 80, n).astype(float),
           "device": rng.choice(list(levels), n)}
    return fairaudit.EmbeddingSet(np.array(rows), identity=ident, attributes={"g": group}, covariates=cov)


def _brute(es):
    x = es.normalized().astype(np.float64)
    s = x @ x.T
    iu, ju = np.triu_indices(len(es), 1)
    score = s[iu, ju]
    assert np.min(np.abs(score - THRESHOLD)) > 1e-5  # no decision near the threshold's rounding
    same = es.identity[iu] == es.identity[ju]
    g = es.column("g")
    return iu, ju, score, same, g


@pytest.fixture(scope="module")
def es():
    return _population()


@pytest.fixture(scope="module")
def result(es):
    return covariate_audit(es, by="g", threshold=THRESHOLD, n_boot=50, regression=False)


def test_rates_per_bin_equal_brute_force(es, result):
    iu, ju, score, same, g = _brute(es)
    q = es.covariates["quality"].to_numpy()
    edges = np.unique(np.quantile(q, np.linspace(0, 1, 5)))
    bq = digitize(q, edges)
    lower = np.minimum(bq[iu], bq[ju])
    for group in ("A", "B"):
        within = (g[iu] == group) & (g[ju] == group)
        for k in range(len(edges) - 1):
            gen = within & same & (lower == k)
            imp = within & ~same & (lower == k)
            row = result.fnmr.query("covariate == 'quality' and pairing == 'lower' and group == @group "
                                    "and bin_code == @k").iloc[0]
            assert row.n_pairs == gen.sum() and row.n_errors == (score[gen] < THRESHOLD).sum()
            row = result.fmr.query("covariate == 'quality' and group == @group and bin_code == @k").iloc[0]
            assert row.n_pairs == imp.sum() and row.n_errors == (score[imp] >= THRESHOLD).sum()
    # everyone: all impostor comparisons, cross-group ones included
    imp = ~same
    over = result.fmr.query("covariate == 'quality' and group.isna()", engine="python")
    assert over.n_pairs.sum() == imp.sum() and over.n_errors.sum() == (score[imp] >= THRESHOLD).sum()


def test_cells_and_categorical_levels_equal_brute_force(es, result):
    iu, ju, score, same, g = _brute(es)
    dev = es.covariates["device"].to_numpy()
    levels = sorted(set(dev))
    code = np.searchsorted(levels, dev)
    cidx = cell_index(len(levels))
    cell = cidx[code[iu], code[ju]]
    for group in ("A", "B"):
        within = (g[iu] == group) & (g[ju] == group) & ~same
        part = result.fmr_cells.query("covariate == 'device' and group == @group")
        for _, row in part.iterrows():
            sel = within & (cell == cidx[row.bin_a, row.bin_b])
            assert row.n_pairs == sel.sum() and row.n_errors == (score[sel] >= THRESHOLD).sum()
    # a level named "mixed" is kept apart from the pairs of two different levels
    bins = result.fnmr.query("covariate == 'device' and pairing == 'lower' and group == 'A'")["bin"].tolist()
    assert bins == ["mixed", "p", "q", "(mixed)"]
    gen = (g[iu] == "A") & same & (code[iu] != code[ju])
    row = result.fnmr.query("covariate == 'device' and group == 'A' and bin == '(mixed)'").iloc[0]
    assert row.n_pairs == gen.sum()


def test_gap_bins_of_genuine_pairs(es, result):
    iu, ju, score, same, g = _brute(es)
    age = es.covariates["age"].to_numpy()
    gap = np.abs(age[iu] - age[ju])
    part = result.fnmr.query("covariate == 'age' and pairing == 'gap' and group.isna()", engine="python")
    assert part.n_pairs.sum() == same.sum()
    edges = np.unique(np.quantile(gap[same], np.linspace(0, 1, 5)))
    b = digitize(gap, edges)
    for _, row in part.iterrows():
        sel = same & (b == row.bin_code)
        assert row.n_pairs == sel.sum() and row.n_errors == (score[sel] < THRESHOLD).sum()


def test_totals_equal_the_verification_audit(es, result):
    vr = fairaudit.verification_audit(es, by="g", threshold=THRESHOLD, n_boot=0)
    for rate in ("fnmr", "fmr"):
        frame = getattr(result, rate)
        for cov in ("quality", "age", "device"):
            part = frame[(frame.covariate == cov) & (frame.pairing == "lower") & frame.group.notna()]
            got = part.groupby("group").apply(lambda d: d.n_errors.sum() / d.n_pairs.sum())
            want = vr.by_group.set_index("label")[rate]
            np.testing.assert_allclose(got.sort_index().to_numpy(), want.sort_index().to_numpy(), rtol=0, atol=0)


def test_replicate_formulas_equal_weighted_sums_over_materialised_pairs(es):
    iu, ju, score, same, g = _brute(es)
    names, ident = np.unique(es.identity, return_inverse=True)
    rng = np.random.default_rng(3)
    w = rng.integers(0, 3, size=(4, len(names))).astype(float)
    q = digitize(es.covariates["quality"].to_numpy(), np.array([0, 0.3, 0.7, 1.0]))
    counts = np.zeros((len(names), 3))
    np.add.at(counts, (ident, q), 1.0)
    cidx = cell_index(3)
    imp = ~same
    fm = imp & (score >= THRESHOLD)
    num, den = tables.impostor_cells(w, counts, ident[iu[fm]], ident[ju[fm]], cidx[q[iu[fm]], q[ju[fm]]])
    pw = w[:, ident[iu]] * w[:, ident[ju]]
    for c in range(6):
        sel = imp & (cidx[q[iu], q[ju]] == c)
        np.testing.assert_allclose(den[:, c], pw[:, sel].sum(axis=1))
        np.testing.assert_allclose(num[:, c], pw[:, sel & fm].sum(axis=1))


def test_intervals_cover_the_estimate_and_are_deterministic(es, result):
    again = covariate_audit(es, by="g", threshold=THRESHOLD, n_boot=50, regression=False)
    pd.testing.assert_frame_equal(result.fnmr, again.fnmr)
    pd.testing.assert_frame_equal(result.fmr, again.fmr)
    ok = result.fnmr.dropna(subset=["ci_low"])
    assert ((ok.ci_low <= ok.rate + 1e-12) & (ok.rate <= ok.ci_high + 1e-12)).all()
    other = covariate_audit(es, by="g", threshold=THRESHOLD, n_boot=50, random_state=1, regression=False)
    assert not np.allclose(other.fnmr.ci_high.fillna(0), result.fnmr.ci_high.fillna(0))


def test_json_round_trip_and_tables(result):
    back = CovariateResult.from_json(result.to_json())
    pd.testing.assert_frame_equal(back.fnmr.reset_index(drop=True), result.fnmr.reset_index(drop=True),
                                  check_dtype=False)
    assert back.heatmap("age", "A").shape == (4, 4)
    assert json.loads(result.to_json())["kind"] == "covariates"
    table = result.table("fnmr", "quality")
    assert list(table.columns) == ["(overall)", "A", "B"] or set(table.columns) >= {"A", "B"}
    assert "Covariate audit at threshold" in result.summary()


def test_a_group_named_all_is_not_the_overall_row():
    es = _population(group_names=("all", "B"))
    r = covariate_audit(es, by="g", threshold=THRESHOLD, n_boot=0, regression=False)
    part = r.fnmr.query("covariate == 'quality' and pairing == 'lower'")
    # the verification audit's labels (a group named like the pooled label is quoted), never None
    assert set(part.group.dropna()) == set(r.groups) and len(r.groups) == 2 and part.group.isna().sum() == 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(covariates="height"), "'height' is not a covariate of this set"),
    (dict(n_bins=1), "n_bins=1 must be an integer from 2 to 20"),
    (dict(bins={"quality": [0.2, 0.5]}), "leaves"),
    (dict(bins={"device": [0, 1]}), "categorical covariate"),
    (dict(bins={"quality": [1, 0]}), "increasing"),
    (dict(bins={"weight": [0, 1]}), "not an audited covariate"),
    (dict(covariates=["age", "age"]), "names a covariate twice"),
])
def test_bad_options_are_one_line_errors(es, kwargs, message):
    with pytest.raises(FairauditInputError, match=message.replace("(", r"\(").replace("[", r"\[")):
        covariate_audit(es, by="g", threshold=THRESHOLD, n_boot=0, regression=False, **kwargs)


def test_data_without_covariates_or_not_embeddings_is_refused(es):
    plain = fairaudit.EmbeddingSet(es.embeddings, identity=es.identity, attributes=es.attributes)
    with pytest.raises(FairauditInputError, match="has no covariates"):
        covariate_audit(plain, by="g")
    with pytest.raises(FairauditInputError, match="needs an EmbeddingSet"):
        covariate_audit(np.zeros((3, 3)), by="g")


@pytest.mark.parametrize("covariates, message", [
    ({"age": [1.0, np.nan]}, "missing or non-finite"),
    ({"age": ["old", 3]}, None),  # text: categorical
    ({"g": [1, 2]}, "has the name of an attribute"),
    ({"identity": [1, 2]}, "reserved column"),
    ({"age": [1, 2, 3]}, "has 3 entries but embeddings has 2 rows"),
])
def test_covariate_values_are_checked(covariates, message):
    build = lambda: fairaudit.EmbeddingSet(np.eye(2, 4) + 0.1, identity=["a", "b"], attributes={"g": ["x", "y"]},  # noqa: E731
                                          covariates=covariates)
    if message is None:
        assert build().covariate_kinds == {"age": "categorical"}
    else:
        with pytest.raises(FairauditInputError, match=message):
            build()


def test_covariates_survive_files_and_subsets(tmp_path, es):
    for suffix in ("npz", "parquet"):
        back = fairaudit.EmbeddingSet.load(es.save(tmp_path / f"x.{suffix}"))
        pd.testing.assert_frame_equal(back.covariates, es.covariates, check_dtype=False)
        assert back.covariate_kinds == es.covariate_kinds and back.attribute_names == ["g"]
    sub = es.subset(np.arange(5))
    assert sub.covariates["age"].tolist() == es.covariates["age"][:5].tolist()
    with pytest.raises(FairauditInputError, match="already in this set"):
        es.with_covariates({"age": np.zeros(len(es))})
    assert es.with_covariates({"age": np.ones(len(es))}, replace=True).covariate_names == ["age"]


def test_every_figure_draws_with_hostile_labels(tmp_path):
    from fairaudit.covariates import plots

    es = _population(group_names=("cost $5 and $", "B"), levels=("$\\undefinedmacro{x}$", "q"))
    r = covariate_audit(es, by="g", threshold=THRESHOLD, n_boot=20, regression=False)
    paths = plots.save_all(r, tmp_path)
    assert len(paths) == len(plots.figures(r)) >= 10 and all(p.stat().st_size > 1000 for p in paths)
    fig = plots.rates_by_bin(r, "device")
    fig.canvas.draw() if hasattr(fig.canvas, "draw") else None
    texts = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "cost \\$5 and \\$" in texts  # escaped: drawn literally
    with pytest.raises(FairauditInputError, match="was not audited"):
        plots.fmr_heatmap(r, "height")


def test_cli_covariates_writes_json_plots_and_refuses_bad_input(tmp_path, es, capsys):
    from fairaudit.cli import main

    data = es.save(tmp_path / "pop.npz")
    out = tmp_path / "r.json"
    assert main(["covariates", str(data), "--by", "g", "--threshold", str(THRESHOLD), "--n-boot", "20",
                 "--no-regression", "--json", str(out), "--plots", str(tmp_path / "plots")]) == 0
    back = CovariateResult.from_json(out)
    assert back.covariates == ["quality", "age", "device"]
    assert len(list((tmp_path / "plots").glob("*.png"))) >= 10
    assert "FNMR by quality" in capsys.readouterr().out
    # covariates from a CSV, matched by row order; a numeric-looking device declared categorical
    plain = fairaudit.EmbeddingSet(es.embeddings, identity=es.identity, attributes=es.attributes)
    bare = plain.save(tmp_path / "plain.npz")
    table = es.covariates.assign(device=np.where(es.covariates["device"] == "p", 1, 2))
    table.to_csv(tmp_path / "cov.csv", index=False)
    assert main(["covariates", str(bare), "--by", "g", "--covariates-csv", str(tmp_path / "cov.csv"),
                 "--categorical", "device", "--n-boot", "0", "--no-regression", "--json", str(out)]) == 0
    assert CovariateResult.from_json(out).params["covariate_kinds"]["device"] == "categorical"
    table.iloc[:-1].to_csv(tmp_path / "short.csv", index=False)
    table.assign(age=["NA"] + table["age"].tolist()[1:]).to_csv(tmp_path / "gap.csv", index=False)
    for argv, message in [
        (["covariates", str(bare), "--by", "g"], "has no covariates"),
        (["covariates", str(bare), "--by", "g", "--covariates-csv", str(tmp_path / "short.csv")],
         f"has {len(es) - 1} rows but DATA has {len(es)} samples"),
        (["covariates", str(data), "--by", "g", "--bins", "age=x"], "must be NAME=EDGE,EDGE"),
        (["covariates", str(bare), "--by", "g", "--covariates-csv", str(tmp_path / "gap.csv")],
         "column 'age' of"),
        (["covariates", str(data), "--by", "g", "--covariate", "height"], "'height' is not a covariate"),
    ]:
        assert main(argv) == 2
        assert message in capsys.readouterr().err


@pytest.mark.parametrize("values, note", [
    ("constant", "falls in a single bin"), ("ties", "falls in a single bin"), ("level", "has the single level 'x'"),
])
def test_covariates_without_contrast_are_audited_with_a_note(es, values, note):
    n = len(es)
    column = {"constant": np.ones(n), "ties": np.r_[np.zeros(n - 1), 1.0], "level": ["x"] * n}[values]
    data = fairaudit.EmbeddingSet(es.embeddings, identity=es.identity, attributes=es.attributes,
                                  covariates={"c": column})
    r = covariate_audit(data, by="g", threshold=THRESHOLD, n_boot=20)
    assert any(note in n_ for n_ in r.notes)
    assert r.fnmr.groupby("group", dropna=False).n_pairs.sum().min() > 0


def test_groups_of_one_identity_give_notes_not_errors():
    data = fairaudit.EmbeddingSet(np.random.default_rng(0).normal(size=(4, 8)), identity=list("aabb"),
                                  attributes={"g": list("xxyy")}, covariates={"q": [1.0, 2, 3, 4]})
    r = covariate_audit(data, by="g", threshold=0.3, n_boot=20)
    assert any("no group has impostor comparisons within it" in n for n in r.notes)


def test_cli_covariates_reads_a_score_file_with_covariates_per_side(tmp_path, es, capsys):
    from fairaudit.cli import main

    x = es.normalized().astype(np.float64)
    iu, ju = np.triu_indices(len(es), 1)
    g, cov = es.column("g"), es.covariates
    ss = fairaudit.ScoreSet.from_arrays(
        (x @ x.T)[iu, ju], identity_a=es.identity[iu], identity_b=es.identity[ju],
        attributes_a={"g": g[iu]}, attributes_b={"g": g[ju]},
        covariates_a={k: cov[k].to_numpy()[iu] for k in cov}, covariates_b={k: cov[k].to_numpy()[ju] for k in cov})
    path = ss.save(tmp_path / "scores.parquet")
    out = tmp_path / "r.json"
    assert main(["covariates", str(path), "--by", "g", "--threshold", str(THRESHOLD), "--n-boot", "0",
                 "--no-regression", "--covariate", "device", "--json", str(out)]) == 0
    listed = CovariateResult.from_json(out)
    direct = covariate_audit(es, by="g", covariates="device", threshold=THRESHOLD, n_boot=0, regression=False)
    pd.testing.assert_frame_equal(listed.fnmr[["group", "bin", "n_pairs", "n_errors"]].reset_index(drop=True),
                                  direct.fnmr[["group", "bin", "n_pairs", "n_errors"]].reset_index(drop=True),
                                  check_dtype=False)
    capsys.readouterr()
    assert main(["covariates", str(path), "--by", "g", "--covariates-csv", str(out)]) == 2
    assert "holds scores, whose covariates are per side" in capsys.readouterr().err


def test_a_memory_mapped_set_gives_the_same_tables(tmp_path, es, result):
    path = tmp_path / "emb.npy"
    np.save(path, np.asarray(es.embeddings, dtype=np.float32))
    mapped = fairaudit.EmbeddingSet.from_npy(path, identity=es.identity, attributes=es.attributes,
                                             covariates=es.covariates)
    assert mapped.out_of_core
    again = covariate_audit(mapped, by="g", threshold=THRESHOLD, n_boot=50, regression=False)
    for name in ("fnmr", "fmr", "fmr_cells", "fnmr_curve"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(result, name))


def test_a_damaged_result_file_is_one_line_error(tmp_path, result):
    data = json.loads(result.to_json())
    del data["fnmr"]
    with pytest.raises(FairauditInputError, match=r"lacks \['fnmr'\] for a covariate result"):
        CovariateResult.from_dict(data)
    with pytest.raises(FairauditInputError, match="expected 'covariates'"):
        CovariateResult.from_dict({**data, "kind": "verification"})


def test_the_passes_on_dask_give_the_same_tables(es, result):
    pytest.importorskip("distributed")
    again = covariate_audit(es, by="g", threshold=THRESHOLD, n_boot=50, regression=False, scheduler="threads",
                            workers=2, tile=64)
    for name in ("fnmr", "fmr", "fmr_cells", "fnmr_curve"):
        pd.testing.assert_frame_equal(getattr(again, name), getattr(result, name))


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_LEVEL = st.text(min_size=1, max_size=6).filter(lambda t: t.strip() == t and t.strip() != "")


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_LEVEL, min_size=3, max_size=3, unique=True))
def test_any_level_names_give_the_counts_of_plain_ones(es, levels):
    """Renaming a categorical covariate's levels (to 'mixed', '(mixed)', '$x$', bidi text, ...) changes
    no count: the pairs of each level, and of mixed levels, stay what they are."""
    plain = es.covariates["device"].to_numpy()
    rename = dict(zip(sorted(set(plain)), levels))
    data = fairaudit.EmbeddingSet(es.embeddings, identity=es.identity, attributes=es.attributes,
                                  covariates={"device": [rename[v] for v in plain]})
    base = covariate_audit(es, by="g", covariates="device", threshold=THRESHOLD, n_boot=0, regression=False)
    other = covariate_audit(data, by="g", covariates="device", threshold=THRESHOLD, n_boot=0, regression=False)
    for name in ("fnmr", "fmr"):
        a, b = getattr(base, name), getattr(other, name)
        key = lambda f: sorted(zip(f.group.fillna("<everyone>"), f.n_pairs, f.n_errors))  # noqa: E731
        assert key(a) == key(b)
    mixed = other.fnmr[other.fnmr.bin_code == 3]  # the pairs of two different levels, whatever the names
    assert (mixed.n_pairs.to_numpy() == base.fnmr[base.fnmr.bin_code == 3].n_pairs.to_numpy()).all()


def test_a_group_named_everyone_is_told_apart_from_the_rows_of_everyone():
    from fairaudit.covariates import plots

    es = _population(group_names=("everyone", "B"))
    r = covariate_audit(es, by="g", threshold=THRESHOLD, n_boot=0, regression=False)
    header = next(line for line in r.summary().splitlines() if line.startswith("quality (lower"))
    assert header.split()[-2:] == ["everyone", "(everyone)"]
    legend = [t.get_text() for t in plots.rates_by_bin(r, "quality").axes[0].get_legend().get_texts()]
    assert legend == ["B", "everyone", "(everyone)"]
