"""Covariates per side on a ScoreSet, and the covariate audit of a ScoreSet against brute force:
the listed rows grouped with pandas, the bootstrap sums against weighted sums over the rows, totals
against the verification audit, and a ScoreSet of all pairs of an EmbeddingSet against the
EmbeddingSet route."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import FairauditInputError, ScoreSet
from fairaudit.covariates import covariate_audit, listed, tables
from fairaudit.covariates.bins import cell_index, digitize

THRESHOLD = 0.31


def _scores(seed=0, n_ids=14, groups=("A", "B")):
    """A listed ScoreSet: genuine rows within identities, impostor rows within and across groups,
    covariates drawn per side (quality numeric, device categorical with a level named 'mixed')."""
    rng = np.random.default_rng(seed)
    people = [(f"{g}{i}", g) for g in groups for i in range(n_ids)]
    group_of = dict(people)
    rows = []
    for name, g in people:
        for _ in range(int(rng.integers(1, 5))):
            rows.append((name, name, rng.uniform(0.05, 0.95) + (0.1 if g == "A" else 0.0)))
    names = [p for p, _ in people]
    for _ in range(900):
        a, b = rng.choice(names, 2, replace=False)
        rows.append((a, b, rng.uniform(-0.5, 0.55)))
    ida, idb, score = (np.array(c) for c in zip(*rows))
    score = np.clip(score.astype(float), -1, 1)
    near = np.abs(score - THRESHOLD) < 1e-5
    score[near] += 1e-4  # no decision near the threshold's rounding
    n = len(score)
    cov = lambda: {"quality": rng.uniform(0, 1, n), "device": rng.choice(["p", "q", "mixed"], n)}  # noqa: E731
    return ScoreSet.from_arrays(score, identity_a=ida, identity_b=idb,
                                attributes_a={"g": [group_of[i] for i in ida]},
                                attributes_b={"g": [group_of[i] for i in idb]},
                                covariates_a=cov(), covariates_b=cov())


@pytest.fixture(scope="module")
def ss():
    return _scores()


@pytest.fixture(scope="module")
def result(ss):
    return covariate_audit(ss, by="g", threshold=THRESHOLD, n_boot=40, regression=False)


def _rows(ss):
    """The listed rows as a frame, with both sides' quality bins (quantiles over both sides)."""
    a, b = ss.covariates("a"), ss.covariates("b")
    both = np.concatenate([a["quality"], b["quality"]])
    edges = np.unique(np.quantile(both, np.linspace(0, 1, 5)))
    frame = pd.DataFrame({"score": ss.scores, "genuine": ss.genuine, "ga": ss.column("g", "a"),
                          "gb": ss.column("g", "b"), "qa": digitize(a["quality"].to_numpy(), edges),
                          "qb": digitize(b["quality"].to_numpy(), edges), "da": a["device"], "db": b["device"]})
    frame["lower"] = np.minimum(frame.qa, frame.qb)
    frame["fnm"] = frame.genuine & (frame.score < THRESHOLD)
    frame["fm"] = ~frame.genuine & (frame.score >= THRESHOLD)
    return frame


def _within(frame, group):
    return frame[(frame.ga == group) & (frame.gb == group)]


def test_rates_per_bin_equal_pandas_groupby_of_the_listed_rows(ss, result):
    frame = _rows(ss)
    for group in ("A", "B", None):
        part = frame if group is None else _within(frame, group)
        gen = part[part.genuine].groupby("lower").agg(n=("fnm", "size"), e=("fnm", "sum"))
        imp = part[~part.genuine].groupby("lower").agg(n=("fm", "size"), e=("fm", "sum"))
        for rate, want in (("fnmr", gen), ("fmr", imp)):
            got = getattr(result, rate)
            got = got[(got.covariate == "quality") & (got.pairing == "lower")
                      & (got.group.isna() if group is None else got.group == group)].set_index("bin_code")
            got = got[got.n_pairs > 0]
            assert got.index.tolist() == want.index.tolist()
            assert got.n_pairs.tolist() == want.n.tolist() and got.n_errors.tolist() == want.e.tolist()
            np.testing.assert_allclose(got.rate, want.e / want.n, rtol=1e-12)


def test_cells_and_levels_equal_pandas_groupby(ss, result):
    frame = _rows(ss)
    levels = sorted(set(frame.da) | set(frame.db))
    code_a, code_b = np.searchsorted(levels, frame.da), np.searchsorted(levels, frame.db)
    frame["cell"] = cell_index(len(levels))[code_a, code_b]
    frame["same"] = np.where(code_a == code_b, code_a, len(levels))
    for group in ("A", "B", None):
        part = frame if group is None else _within(frame, group)
        imp = part[~part.genuine]
        want = imp.groupby("cell").agg(n=("fm", "size"), e=("fm", "sum"))
        cells = result.fmr_cells.query("covariate == 'device'")
        cells = cells[cells.group.isna() if group is None else cells.group == group]
        cidx = cell_index(len(levels))
        got = cells.assign(cell=cidx[cells.bin_a, cells.bin_b]).set_index("cell")
        got = got[got.n_pairs > 0].sort_index()
        assert got.n_pairs.tolist() == want.n.tolist() and got.n_errors.tolist() == want.e.tolist()
        gen = part[part.genuine].groupby("same").agg(n=("fnm", "size"), e=("fnm", "sum"))
        rows = result.fnmr.query("covariate == 'device' and pairing == 'lower'")
        rows = rows[rows.group.isna() if group is None else rows.group == group].set_index("bin_code")
        rows = rows[rows.n_pairs > 0]
        assert rows.n_pairs.tolist() == gen.n.tolist() and rows.n_errors.tolist() == gen.e.tolist()
    bins = result.fnmr.query("covariate == 'device' and pairing == 'lower' and group == 'A'")["bin"].tolist()
    assert bins == ["mixed", "p", "q", "(mixed)"]


def test_gap_bins_of_genuine_rows(ss, result):
    a, b = ss.covariates("a")["quality"].to_numpy(), ss.covariates("b")["quality"].to_numpy()
    gap = np.abs(a - b)[ss.genuine]
    fnm = ss.scores[ss.genuine] < THRESHOLD
    edges = np.unique(np.quantile(gap, np.linspace(0, 1, 5)))
    code = digitize(gap, edges)
    part = result.fnmr.query("covariate == 'quality' and pairing == 'gap' and group.isna()", engine="python")
    for _, row in part.iterrows():
        assert row.n_pairs == (code == row.bin_code).sum()
        assert row.n_errors == fnm[code == row.bin_code].sum()


def test_totals_equal_the_verification_audit(ss, result):
    vr = fairaudit.verification_audit(ss, by="g", threshold=THRESHOLD, n_boot=0, n_perm=0)
    want = vr.by_group.set_index("label")
    for rate in ("fnmr", "fmr"):
        frame = getattr(result, rate)
        for cov in ("quality", "device"):
            part = frame[(frame.covariate == cov) & (frame.pairing == "lower") & frame.group.notna()]
            got = part.groupby("group").apply(lambda d: d.n_errors.sum() / d.n_pairs.sum())
            np.testing.assert_allclose(got.sort_index().to_numpy(), want[rate].sort_index().to_numpy(), rtol=0,
                                       atol=0)
            n_col = "n_genuine" if rate == "fnmr" else "n_impostor"
            assert part.groupby("group").n_pairs.sum().sort_index().tolist() == want[n_col].sort_index().tolist()
    overall = result.fmr.query("covariate == 'quality' and group.isna()", engine="python")
    assert overall.n_pairs.sum() == ss.n_impostor
    assert overall.n_errors.sum() / overall.n_pairs.sum() == pytest.approx(float(vr.overall["fmr"]), abs=1e-15)


def test_bootstrap_sums_equal_weighted_sums_over_the_listed_rows(ss):
    table = ss.identity_table()
    lookup = pd.Index(table.index)
    ia, ib = lookup.get_indexer(ss.identity_a), lookup.get_indexer(ss.identity_b)
    imp = ~ss.genuine
    fm = imp & (ss.scores >= THRESHOLD)
    q = np.concatenate([ss.covariates("a")["quality"], ss.covariates("b")["quality"]])
    code = digitize(q, np.array([0, 0.3, 0.7, 1.0]))
    n = len(ss)
    cell = cell_index(3)[code[:n], code[n:]]
    w = np.random.default_rng(5).integers(0, 3, size=(4, len(table))).astype(float)
    num, den = listed._impostor_cells(ia[imp], ib[imp], cell[imp], fm[imp], 6, w)
    pw = w[:, ia] * w[:, ib]
    for c in range(6):
        np.testing.assert_allclose(den[:, c], pw[:, imp & (cell == c)].sum(axis=1))
        np.testing.assert_allclose(num[:, c], pw[:, fm & (cell == c)].sum(axis=1))


def test_intervals_are_the_bootstrap_of_the_listed_rows_and_deterministic(ss, result):
    again = covariate_audit(ss, by="g", threshold=THRESHOLD, n_boot=40, regression=False)
    pd.testing.assert_frame_equal(result.fmr, again.fmr)
    pd.testing.assert_frame_equal(result.fnmr_curve, again.fnmr_curve)
    ok = result.fmr.dropna(subset=["ci_low"])
    assert len(ok) and ((ok.ci_low <= ok.rate + 1e-12) & (ok.rate <= ok.ci_high + 1e-12)).all()
    # the replicate FMR of every bin recomputed by hand from the audit's identity draws
    r = covariate_audit(ss, by="g", threshold=THRESHOLD, n_boot=40, regression=False, min_identities=2)
    table = ss.identity_table()
    codes = fairaudit.data.make_groups({"g": table["g"].to_numpy()}, ("g",)).codes
    weights = tables.draw_group_weights(codes, 2, 40, np.random.default_rng(0))
    rows = _rows(ss)
    checked = 0
    for g, group in enumerate(("A", "B")):
        local = pd.Index(table.index[codes == g])
        for k in range(4):
            part = _within(rows, group)
            part = part[~part.genuine & (part.lower == k)]
            wa = weights[g][:, local.get_indexer(ss.identity_a[part.index])]
            wb = weights[g][:, local.get_indexer(ss.identity_b[part.index])]
            with np.errstate(invalid="ignore", divide="ignore"):
                reps = (wa * wb * part.fm.to_numpy()).sum(axis=1) / (wa * wb).sum(axis=1)
            row = r.fmr.query("covariate == 'quality' and group == @group and bin_code == @k").iloc[0]
            if row.ci_method == "percentile":
                lo, hi = np.quantile(reps[np.isfinite(reps)], [0.025, 0.975])
                np.testing.assert_allclose([row.ci_low, row.ci_high], [lo, hi], rtol=1e-9)
                checked += 1
    assert checked >= 4


def test_a_scoreset_of_all_pairs_equals_the_embeddingset_route():
    rng = np.random.default_rng(2)
    rows, ident, group = [], [], []
    for g, name in enumerate(("A", "B")):
        for i in range(9):
            centre = rng.normal(size=12)
            for _ in range(int(rng.integers(2, 5))):
                rows.append(centre + rng.normal(scale=0.9 + 0.3 * g, size=12))
                ident.append(f"{name}{i}")
                group.append(name)
    n = len(rows)
    cov = {"quality": rng.uniform(0, 1, n), "age": rng.integers(18, 80, n).astype(float),
           "device": rng.choice(["p", "q"], n)}
    es = fairaudit.EmbeddingSet(np.array(rows), identity=ident, attributes={"g": group}, covariates=cov)
    x = es.normalized().astype(np.float64)
    iu, ju = np.triu_indices(n, 1)
    score = (x @ x.T)[iu, ju]
    threshold = 0.29
    assert np.min(np.abs(score - threshold)) > 1e-5
    table = es.covariates
    ss = ScoreSet.from_arrays(score, identity_a=es.identity[iu], identity_b=es.identity[ju],
                              attributes_a={"g": es.column("g")[iu]}, attributes_b={"g": es.column("g")[ju]},
                              covariates_a=table.iloc[iu], covariates_b=table.iloc[ju])
    # quantile bins of samples and of row-sides differ: fixed edges make them the same bins
    bins = {"quality": [0, 0.25, 0.5, 0.75, 1.0], "age": [18, 35, 50, 65, 80]}
    options = dict(by="g", threshold=threshold, n_boot=30, bins=bins)
    want, got = covariate_audit(es, **options), covariate_audit(ss, **options)
    for name in ("fnmr", "fmr", "fmr_cells", "fnmr_curve"):
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name), check_exact=False, rtol=1e-9)
    assert got.threshold == want.threshold and got.params["bins"] == want.params["bins"]
    # the regressions too: the same genuine pairs, and impostor cells of the same counts
    for side in ("genuine", "impostor"):
        assert got.models[side]["sentences"] == want.models[side]["sentences"]
        np.testing.assert_allclose(np.array(got.models[side]["gaps"]["data"])[:, 2:-1].astype(float),
                                   np.array(want.models[side]["gaps"]["data"])[:, 2:-1].astype(float), rtol=1e-6)


def test_regressions_are_fitted_on_a_scoreset(ss):
    r = covariate_audit(ss, by="g", threshold=THRESHOLD, n_boot=0, covariates=["quality"])
    assert set(r.models) == {"genuine", "impostor"}
    assert r.sentences()


# ------------------------------------------------------------------------------------------------
# the data: covariates per side, files, errors
def test_covariates_per_side_and_copies(ss):
    assert ss.covariate_names == ["quality", "device"]
    assert ss.covariate_kinds == {"quality": "numeric", "device": "categorical"}
    a = ss.covariates("a")
    assert len(a) == len(ss) and a["quality"].dtype == np.float64
    a.loc[0, "quality"] = -5  # a copy
    assert ss.covariates("a").loc[0, "quality"] != -5
    assert ss.with_value_labels({"g": {"A": "group A"}}).covariate_names == ss.covariate_names
    back = ScoreSet(ss.table)
    assert back.covariate_kinds == ss.covariate_kinds
    pd.testing.assert_frame_equal(back.covariates("b"), ss.covariates("b"))
    assert "covariates=[quality, device]" in repr(ss)
    plain = ScoreSet(ss.table.drop(columns=[c for c in ss.table.columns if c.startswith("covariate:")]))
    assert plain.covariate_names == [] and plain.attribute_names == ["g"]
    added = plain.with_covariates(a={"age": np.arange(len(ss))}, b={"age": np.arange(len(ss)) + 1.0})
    assert added.covariate_kinds == {"age": "numeric"} and plain.covariate_names == []
    coded = added.with_covariates(a={"dev": np.ones(len(ss), int)}, b={"dev": np.ones(len(ss), int)},
                                  kinds={"dev": "categorical"})
    assert coded.covariate_kinds == {"age": "numeric", "dev": "categorical"}
    assert coded.covariates("a")["dev"].iloc[0] == "1"
    with pytest.raises(FairauditInputError, match=r"covariates \['age'\] are already in this ScoreSet"):
        added.with_covariates(a={"age": np.zeros(len(ss))}, b={"age": np.zeros(len(ss))})
    assert added.with_covariates(a={"x": np.zeros(len(ss))}, b={"x": np.zeros(len(ss))},
                                 replace=True).covariate_names == ["x"]
    # numbers on one side, text on the other: categorical on both
    mixed = plain.with_covariates(a={"m": np.ones(len(ss))}, b={"m": ["u"] * len(ss)})
    assert mixed.covariate_kinds == {"m": "categorical"}
    with pytest.raises(FairauditInputError, match="side='c' must be 'a' or 'b'"):
        ss.covariates("c")


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_save_and_read_keep_the_covariates(tmp_path, ss, suffix):
    coded = ss.with_covariates(a={"dev": np.arange(len(ss)) % 3}, b={"dev": np.arange(len(ss)) % 2},
                               kinds={"dev": "categorical"})
    path = coded.save(tmp_path / f"s.{suffix}")
    back = ScoreSet.read(path)
    header = pd.read_csv(path, nrows=0).columns.tolist() if suffix == "csv" else None
    if header is not None:
        assert {"covariate:quality_a", "covariate:quality_b", "covariate:device_a"} <= set(header)
    want = dict(coded.covariate_kinds)
    if suffix == "csv":  # CSV keeps no kinds: cells that are all numbers make a numeric covariate
        want["dev"] = "numeric"
    assert back.covariate_kinds == want and back.attribute_names == ["g"]
    for side in ("a", "b"):
        np.testing.assert_array_equal(back.covariates(side)["quality"], coded.covariates(side)["quality"])
        assert back.covariates(side)["device"].tolist() == coded.covariates(side)["device"].tolist()
    told = ScoreSet.read(path, covariate_kinds={"dev": "categorical"})
    assert told.covariate_kinds == coded.covariate_kinds
    assert told.covariates("b")["dev"].tolist() == coded.covariates("b")["dev"].tolist()
    # attributes from a per-identity table keep the covariates of the file
    people = ss.identity_table().rename(columns={"g": "h"})
    joined = ScoreSet.read(path, identity_attributes=people)
    assert joined.covariate_names == back.covariate_names and set(joined.attribute_names) == {"g", "h"}
    np.testing.assert_array_equal(joined.scores, ss.scores)


def test_a_csv_with_a_missing_covariate_cell_names_the_line(tmp_path, ss):
    path = ss.save(tmp_path / "s.csv")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    k = header.index('"covariate:device_b"')
    cells = lines[3].split(",")
    cells[k] = ""
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(FairauditInputError, match=r"line 4: column 'covariate:device_b' is empty"):
        ScoreSet.read(path)


def test_bob_formats_carry_no_covariates(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("a a s1 0.9\na b s2 0.1\n")
    with pytest.raises(FairauditInputError, match="Bob's score formats carry no covariates"):
        ScoreSet.read(path, covariate_kinds={"quality": "numeric"})
    assert ScoreSet.read(path).covariate_names == []


def _three(**kw):
    return ScoreSet.from_arrays([0.9, 0.2, 0.1], identity_a=["p1", "p1", "p2"], identity_b=["p1", "p2", "p3"],
                                attributes_a={"g": ["F", "F", "M"]}, attributes_b={"g": ["F", "M", "F"]}, **kw)


@pytest.mark.parametrize("kwargs, message", [
    (dict(covariates_a={"q": [1, 2, 3]}, covariates_b={"r": [1, 2, 3]}),
     r"covariates_a and covariates_b must name the same covariates; only in covariates_a: \['q'\]"),
    (dict(covariates_a={"g": [1, 2, 3]}, covariates_b={"g": [1, 2, 3]}),
     "covariates_a: covariate 'g' has the name of an attribute"),
    (dict(covariates_a={"q": [1, np.nan, 3]}, covariates_b={"q": [1, 2, 3]}),
     r"covariates_a\['q'\] has 1 missing or non-finite value\(s\) \(first rows: \[1\]\)"),
    (dict(covariates_a={"q": ["x", "y", "z"]}, covariates_b={"q": ["x", None, "z"]}),
     r"covariates_b\['q'\] has 1 missing"),
    (dict(covariates_a={"q": [1, 2]}, covariates_b={"q": [1, 2, 3]}),
     r"covariates_a\['q'\] has 2 entries but score has 3"),
    (dict(covariates_a=pd.DataFrame({"q": [1, 2, 3, 4]}), covariates_b={"q": [1, 2, 3]}),
     "covariates_a has 4 entries but score has 3"),
    (dict(covariates_a={"q": [1, 2, 3]}), "covariates_a was given but covariates_b was not"),
    (dict(covariates_a={"q": "abc"}, covariates_b={"q": [1, 2, 3]}), "must give one value per comparison"),
    (dict(covariates_a=[1, 2, 3], covariates_b=[1, 2, 3]), "covariates_a must be a DataFrame or a mapping"),
    (dict(covariates_a={"q": ["u", "v ", "w"]}, covariates_b={"q": ["v", "u", "w"]}),
     "differ only by leading or trailing spaces"),
    (dict(covariates_a={"q": [1, 2, 3]}, covariates_b={"q": [1, 2, 3]}, covariate_kinds={"z": "numeric"}),
     "covariate_kinds names 'z', which is not a covariate"),
    (dict(covariates_a={"q": [1, 2, 3]}, covariates_b={"q": [1, 2, 3]}, covariate_kinds={"q": "ordinal"}),
     "is not a kind of covariate"),
    (dict(covariates_a={"q": ["1", "x", "3"]}, covariates_b={"q": [1, 2, 3]}, covariate_kinds={"q": "numeric"}),
     r"covariates_a: covariate 'q' is declared numeric but holds 'x' \(row 1\)"),
])
def test_bad_covariates_are_one_line_errors(kwargs, message):
    with pytest.raises(FairauditInputError, match=message) as info:
        _three(**kwargs)
    assert "\n" not in str(info.value) and "Fix:" in str(info.value)


def test_bad_covariate_columns_of_a_table(ss):
    table = ss.table
    with pytest.raises(FairauditInputError, match="has the column 'covariate:quality_a' but not 'covariate:quality_b'"):
        ScoreSet(table.drop(columns=["covariate:quality_b"]))
    with pytest.raises(FairauditInputError, match="does not end in '_a' or '_b'"):
        ScoreSet(table.assign(**{"covariate:x": 1.0}))
    with pytest.raises(FairauditInputError, match=r"column 'covariate:quality_b' has 1 missing"):
        ScoreSet(table.assign(**{"covariate:quality_b": table["covariate:quality_b"].where(table.index != 2)}))
    with pytest.raises(FairauditInputError, match="starts with 'covariate:'"):
        ScoreSet(table, attributes=["covariate:quality"])
    with pytest.raises(FairauditInputError, match="has the name of an attribute"):
        ScoreSet(table.assign(**{"covariate:g_a": 1.0, "covariate:g_b": 2.0}))


def test_the_audit_of_a_scoreset_refuses_what_it_cannot_audit(ss):
    plain = ScoreSet(ss.table[["score", "identity_a", "identity_b", "g_a", "g_b"]])
    with pytest.raises(FairauditInputError, match="the ScoreSet has no covariates"):
        covariate_audit(plain, by="g")
    with pytest.raises(FairauditInputError, match="'age' is not a covariate of this ScoreSet"):
        covariate_audit(ss, by="g", covariates="age")
    with pytest.raises(FairauditInputError, match="needs an EmbeddingSet"):
        covariate_audit(ss.table, by="g")
