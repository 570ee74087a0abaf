"""Tests of fairaudit.scores.ScoreSet: construction, validation and score files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fairaudit import FairauditInputError
from fairaudit.data.score_set import ScoreSet

GENDER = {"p1": "F", "p2": "M", "p3": "F", "p4": "M"}
ETHNICITY = {"p1": "A", "p2": "A", "p3": "B", "p4": "B"}


def _pairs() -> pd.DataFrame:
    a = ["p1", "p1", "p2", "p3", "p4", "p1", "p2"]
    b = ["p1", "p2", "p2", "p4", "p4", "p3", "p4"]
    return pd.DataFrame({"score": [0.91, 0.12, 0.85, 0.33, 0.77, 0.05, 0.2],
                         "identity_a": a, "identity_b": b})


def _table() -> pd.DataFrame:
    t = _pairs()
    for name, lookup in (("gender", GENDER), ("ethnicity", ETHNICITY)):
        t[f"{name}_a"] = t["identity_a"].map(lookup)
        t[f"{name}_b"] = t["identity_b"].map(lookup)
    return t


def _identity_attributes() -> pd.DataFrame:
    return pd.DataFrame({"gender": GENDER, "ethnicity": ETHNICITY})


def _assert_same(got: ScoreSet, want: ScoreSet) -> None:
    assert got.attribute_names == want.attribute_names
    pd.testing.assert_frame_equal(got.table, want.table)


# --- construction ---------------------------------------------------------------
def test_constructor_infers_attributes_and_normalises():
    t = _table()
    t.index = [10, 11, 12, 13, 14, 15, 16]
    t["unrelated"] = 1
    ss = ScoreSet(t)
    assert ss.attribute_names == ["gender", "ethnicity"]
    assert len(ss) == 7 and ss.n_genuine == 3 and ss.n_impostor == 4 and ss.n_identities == 4
    assert ss.scores.dtype == np.float64
    assert list(ss.table.columns) == ["score", "genuine", "identity_a", "identity_b",
                                      "gender_a", "gender_b", "ethnicity_a", "ethnicity_b"]
    assert list(ss.table.index) == list(range(7))
    assert "ScoreSet(n_comparisons=7" in repr(ss)


def test_genuine_is_derived_from_identity_equality():
    ss = ScoreSet(_pairs())
    expected = _pairs()["identity_a"].to_numpy() == _pairs()["identity_b"].to_numpy()
    np.testing.assert_array_equal(ss.genuine, expected)
    assert ss.genuine.dtype == bool


def test_genuine_column_that_agrees_is_accepted_in_several_spellings():
    t = _pairs()
    same = t["identity_a"] == t["identity_b"]
    for values in (same, same.astype(int), same.map({True: "True", False: "false"})):
        t["genuine"] = values
        np.testing.assert_array_equal(ScoreSet(t).genuine, same.to_numpy())


def test_numeric_labels_become_strings():
    ss = ScoreSet(pd.DataFrame({"score": [1.0, 2.0], "identity_a": [1, 1], "identity_b": [1, 2]}))
    assert ss.identity_a.tolist() == ["1", "1"]
    assert ss.identity_b.dtype.kind == "U"


def test_explicit_attributes_select_columns():
    ss = ScoreSet(_table(), attributes=["ethnicity"])
    assert ss.attribute_names == ["ethnicity"]
    assert ss.column("ethnicity", "b").tolist() == _table()["ethnicity_b"].tolist()
    assert ss.column("identity", "a").tolist() == _table()["identity_a"].tolist()


def test_arrays_are_read_only_and_table_is_a_copy():
    ss = ScoreSet(_table())
    with pytest.raises(ValueError):
        ss.scores[0] = 5.0
    t = ss.table
    t.loc[0, "score"] = 99.0
    assert ss.scores[0] == pytest.approx(0.91)


def test_identity_table_lists_each_identity_once_sorted():
    it = ScoreSet(_table()).identity_table()
    assert list(it.index) == ["p1", "p2", "p3", "p4"]
    assert it.index.name == "identity"
    assert list(it.columns) == ["gender", "ethnicity"]
    assert it.loc["p3", "gender"] == "F" and it.loc["p4", "ethnicity"] == "B"


def test_from_arrays_matches_constructor():
    t = _table()
    ss = ScoreSet.from_arrays(
        t["score"].to_numpy(), identity_a=t["identity_a"].tolist(), identity_b=t["identity_b"],
        attributes_a=pd.DataFrame({"gender": t["gender_a"], "ethnicity": t["ethnicity_a"]}),
        attributes_b={"gender": t["gender_b"].tolist(), "ethnicity": t["ethnicity_b"].to_numpy()},
    )
    _assert_same(ss, ScoreSet(t))


def test_from_identity_table_joins_attributes():
    ss = ScoreSet.from_identity_table(_pairs(), _identity_attributes())
    _assert_same(ss, ScoreSet(_table()))


def test_from_identity_table_accepts_an_identity_column_and_unused_rows():
    ia = _identity_attributes().rename_axis("identity").reset_index()
    ia.loc[len(ia)] = ["p9", "F", "C"]
    ss = ScoreSet.from_identity_table(_pairs(), ia)
    assert ss.n_identities == 4
    assert ss.attribute_names == ["gender", "ethnicity"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_from_arrays_preserves_genuine_and_impostor_counts(data):
    n = data.draw(st.integers(1, 40))
    ids = st.sampled_from(["a", "b", "c", "d", "e"])
    ida = data.draw(st.lists(ids, min_size=n, max_size=n))
    idb = data.draw(st.lists(ids, min_size=n, max_size=n))
    assume(any(x != y for x, y in zip(ida, idb)))
    score = data.draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=n, max_size=n))
    group = {"a": "X", "b": "Y", "c": "X", "d": "Z", "e": "Y"}
    ss = ScoreSet.from_arrays(score, identity_a=ida, identity_b=idb,
                              attributes_a={"g": [group[i] for i in ida]},
                              attributes_b={"g": [group[i] for i in idb]})
    n_gen = sum(x == y for x, y in zip(ida, idb))
    assert (len(ss), ss.n_genuine, ss.n_impostor) == (n, n_gen, n - n_gen)
    np.testing.assert_array_equal(ss.scores, np.asarray(score, dtype=np.float64))
    assert ss.n_identities == len(set(ida) | set(idb))


# --- bad input ------------------------------------------------------------------
def _raises(match: str, func, *args, **kwargs) -> str:
    with pytest.raises(FairauditInputError, match=match) as info:
        func(*args, **kwargs)
    return str(info.value)


def test_table_must_be_a_dataframe():
    _raises("table must be a pandas DataFrame with one row per comparison; got dict",
            ScoreSet, {"score": [1.0]})


def test_missing_required_column_lists_found_columns():
    msg = _raises("lacks the required column", ScoreSet, _pairs().drop(columns="identity_b"))
    assert "['identity_b']" in msg and "columns found: ['score', 'identity_a']" in msg


def test_non_numeric_score_names_rows_and_values():
    t = _pairs().astype({"score": object})
    t.loc[2, "score"] = "high"
    msg = _raises("score must hold numbers", ScoreSet, t)
    assert "first rows: [2]" in msg and "'high'" in msg


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_score_names_count_and_rows(bad):
    t = _pairs()
    t.loc[[1, 4], "score"] = bad
    msg = _raises("score has 2 NaN or infinite", ScoreSet, t)
    assert "first rows: [1, 4]" in msg


def test_missing_identity_is_refused():
    t = _pairs()
    t.loc[3, "identity_a"] = None
    _raises(r"identity_a has 1 missing value\(s\) \(first rows: \[3\]\)", ScoreSet, t)


def test_missing_attribute_value_is_refused():
    t = _table()
    t.loc[5, "gender_b"] = np.nan
    _raises(r"gender_b has 1 missing value\(s\) \(first rows: \[5\]\)", ScoreSet, t)


def test_genuine_disagreeing_with_identities_names_count_and_rows():
    t = _pairs()
    t["genuine"] = t["identity_a"] == t["identity_b"]
    t.loc[[1, 3], "genuine"] = True
    _raises(r"genuine disagrees with identity_a == identity_b on 2 row\(s\) \(first rows: \[1, 3\]\)",
            ScoreSet, t)


def test_genuine_that_is_not_boolean_is_refused():
    t = _pairs()
    t["genuine"] = ["yes?"] * len(t)
    msg = _raises("genuine must hold booleans", ScoreSet, t)
    assert "'yes?'" in msg


def test_no_impostor_rows_is_refused():
    t = _pairs()
    t = t[t["identity_a"] == t["identity_b"]]
    _raises(r"no impostor comparison .* among its 3 row\(s\)", ScoreSet, t)


def test_attribute_changing_within_identity_names_identity_attribute_and_values():
    t = _table()
    t.loc[3, "gender_b"] = "F"  # p4 is M elsewhere, here F on side b
    msg = _raises("attribute 'gender' of identity 'p4'", ScoreSet, t)
    assert "'M'" in msg and "'F'" in msg and "row 3, side b" in msg


def test_unknown_explicit_attribute_lists_columns():
    msg = _raises("attributes lists 'age'", ScoreSet, _table(), attributes=["age"])
    assert "['age_a', 'age_b']" in msg and "Columns found" in msg


def test_reserved_attribute_name_is_refused():
    _raises("clashes with a reserved name", ScoreSet, _table(), attributes=["identity"])


def test_column_checks_side_and_name():
    ss = ScoreSet(_table())
    _raises("side='c' must be 'a' or 'b'", ss.column, "gender", "c")
    _raises("name='age' is not an attribute", ss.column, "age", "a")


def test_from_arrays_length_mismatch_names_argument():
    _raises("identity_b has 2 entries but score has 3", ScoreSet.from_arrays, [1.0, 2.0, 3.0],
            identity_a=["a", "b", "c"], identity_b=["a", "b"])


def test_from_arrays_refuses_one_sided_or_different_attributes():
    kw = dict(identity_a=["a", "b"], identity_b=["a", "c"])
    _raises("attributes_a was given but attributes_b was not", ScoreSet.from_arrays,
            [1.0, 0.0], attributes_a={"g": ["x", "x"]}, **kw)
    _raises(r"only in attributes_a: \['g'\]; only in attributes_b: \['h'\]", ScoreSet.from_arrays,
            [1.0, 0.0], attributes_a={"g": ["x", "x"]}, attributes_b={"h": ["x", "y"]}, **kw)


def test_from_identity_table_missing_identity_is_listed():
    ia = _identity_attributes().drop(index=["p3", "p4"])
    msg = _raises("2 identities used in the comparisons are missing from identity_attributes",
                  ScoreSet.from_identity_table, _pairs(), ia)
    assert "['p3', 'p4']" in msg


def test_from_identity_table_conflicting_rows_are_refused():
    ia = _identity_attributes().rename_axis("identity").reset_index()
    ia.loc[len(ia)] = ["p2", "F", "A"]
    _raises("lists identity 'p2' 2 times with different values",
            ScoreSet.from_identity_table, _pairs(), ia)


def test_from_identity_table_missing_value_is_refused():
    ia = _identity_attributes()
    ia.loc["p2", "gender"] = None
    _raises(r"missing value\(s\) in column 'gender' .*\['p2'\]",
            ScoreSet.from_identity_table, _pairs(), ia)


# --- files ------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_save_and_read_round_trip(tmp_path, suffix):
    t = _table()
    t["score"] = np.random.default_rng(0).normal(size=len(t)) * 1e-7
    t.loc[0, "identity_a"] = t.loc[0, "identity_b"] = "NA"  # must stay a label
    ss = ScoreSet(t)
    path = ss.save(tmp_path / f"scores{suffix}")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    back = ScoreSet.read(path)
    _assert_same(back, ss)
    np.testing.assert_array_equal(back.scores, ss.scores)  # exact floats


def test_save_refuses_unknown_suffix(tmp_path):
    _raises("cannot tell the format", ScoreSet(_table()).save, tmp_path / "x.json")


def _write_4col(path, pairs):
    lines = [f"{a} {b} {b}_sample{i} {s!r}" for i, (s, a, b) in
             enumerate(pairs[["score", "identity_a", "identity_b"]].itertuples(index=False))]
    path.write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n")


def _write_5col(path, pairs):
    lines = [f"{a} {a}_model {b} {b}_sample{i} {s!r}" for i, (s, a, b) in
             enumerate(pairs[["score", "identity_a", "identity_b"]].itertuples(index=False))]
    path.write_text("\n".join(lines) + "\n")


def test_read_bob_4col_round_trips(tmp_path):
    path = tmp_path / "scores-dev"
    _write_4col(path, _pairs())
    want = ScoreSet(_table())
    _assert_same(ScoreSet.read_bob_4col(path, identity_attributes=_identity_attributes()), want)
    _assert_same(ScoreSet.read(path, identity_attributes=_identity_attributes()), want)


def test_read_bob_5col_round_trips(tmp_path):
    path = tmp_path / "scores.txt"
    _write_5col(path, _pairs())
    want = ScoreSet(_table())
    _assert_same(ScoreSet.read_bob_5col(path, identity_attributes=_identity_attributes()), want)
    _assert_same(ScoreSet.read(path, identity_attributes=_identity_attributes()), want)
    assert ScoreSet.read(path, format="bob-5col", identity_attributes=None).attribute_names == []


def test_read_bob_text_with_attribute_subset(tmp_path):
    path = tmp_path / "scores.txt"
    _write_4col(path, _pairs())
    ss = ScoreSet.read(path, identity_attributes=_identity_attributes(), attributes=["gender"])
    assert ss.attribute_names == ["gender"]


def test_bob_text_wrong_field_count_names_file_line_and_content(tmp_path):
    path = tmp_path / "scores.txt"
    path.write_text("p1 p1 s0 0.9\n\np1 p2 s1\np2 p2 s2 0.8\n")
    msg = _raises("line 3: expected 4 whitespace-separated fields", ScoreSet.read_bob_4col, path,
                  identity_attributes=None)
    assert str(path) in msg and "'p1 p2 s1'" in msg and "found 3" in msg


def test_bob_text_bad_score_names_file_line_and_content(tmp_path):
    path = tmp_path / "scores.txt"
    path.write_text("p1 m p1 s0 0.9\np1 m p2 s1 abc\n")
    msg = _raises("line 2: the score 'abc' is not a number", ScoreSet.read_bob_5col, path,
                  identity_attributes=None)
    assert str(path) in msg and "'p1 m p2 s1 abc'" in msg
    path.write_text("p1 p1 s0 0.9\np1 p2 s1 nan\n")
    _raises("line 2: the score 'nan' is not finite", ScoreSet.read_bob_4col, path,
            identity_attributes=None)


def test_bob_text_missing_identity_in_table_names_file(tmp_path):
    path = tmp_path / "scores.txt"
    _write_4col(path, _pairs())
    msg = _raises("missing from identity_attributes", ScoreSet.read_bob_4col, path,
                  identity_attributes=_identity_attributes().drop(index="p4"))
    assert str(path) in msg and "bob-4col" in msg and "['p4']" in msg


def _bob_csv(pairs: pd.DataFrame, *, spaced: bool = False) -> str:
    header = ["probe_template_id", "probe_subject_id", "probe_gender", "probe_ethnicity",
              "probe_age", "bio_ref_template_id", "bio_ref_subject_id", "bio_ref_gender",
              "bio_ref_ethnicity", "score"]
    rows = [",".join(header)]
    for i, (s, a, b) in enumerate(pairs[["score", "identity_a", "identity_b"]].itertuples(index=False)):
        rows.append(",".join([f"{b}_s{i}", b, GENDER[b], ETHNICITY[b], str(20 + i), f"{a}_t",
                              a, GENDER[a], ETHNICITY[a], repr(s)]))
    sep = ", " if spaced else ","
    return "\n".join(r.replace(",", sep) for r in rows) + "\n"


def test_read_bob_csv_round_trips(tmp_path):
    path = tmp_path / "scores-dev.csv"
    path.write_text(_bob_csv(_pairs()))
    ss = ScoreSet.read_bob_csv(path)
    assert sorted(ss.attribute_names) == ["ethnicity", "gender"]  # age is one-sided
    _assert_same(ScoreSet(ss.table, attributes=["gender", "ethnicity"]), ScoreSet(_table()))
    _assert_same(ScoreSet.read(path), ss)


def test_read_bob_csv_accepts_spaces_after_commas_and_subject_columns(tmp_path):
    text = _bob_csv(_pairs(), spaced=True).replace("_subject_id", "_subject")
    path = tmp_path / "scores.csv"
    path.write_text(text)
    ss = ScoreSet.read_bob_csv(path, attributes=["gender"])
    assert ss.attribute_names == ["gender"]
    np.testing.assert_array_equal(ss.identity_a, _pairs()["identity_a"].to_numpy())


def test_read_bob_csv_old_reference_id_columns(tmp_path):
    text = _bob_csv(_pairs()).replace("_subject_id", "_reference_id")
    path = tmp_path / "scores.csv"
    path.write_text(text)
    ss = ScoreSet.read(path, format="bob-csv")
    np.testing.assert_array_equal(ss.identity_b, _pairs()["identity_b"].to_numpy())


def test_read_bob_csv_per_sample_metadata_error_suggests_leaving_it_out(tmp_path):
    text = _bob_csv(_pairs()).replace("bio_ref_ethnicity", "bio_ref_age")
    text = text.replace("probe_ethnicity", "probe_ignored")
    path = tmp_path / "scores.csv"
    path.write_text(text)
    msg = _raises("attribute 'age' of identity", ScoreSet.read_bob_csv, path)
    assert "leave 'age' out of attributes=" in msg and str(path) in msg
    _raises("attributes lists 'race'", ScoreSet.read_bob_csv, path, attributes=["race"])


def test_read_bob_csv_bad_cells_name_file_line_and_content(tmp_path):
    path = tmp_path / "scores.csv"
    lines = _bob_csv(_pairs()).splitlines()
    lines[3] = lines[3].rsplit(",", 1)[0] + ",oops"
    path.write_text("\n".join(lines[:2]) + "\n\n" + "\n".join(lines[2:]) + "\n")
    msg = _raises("line 5: column 'score' holds 'oops', which is not a number",
                  ScoreSet.read_bob_csv, path)
    assert lines[3] in msg and str(path) in msg
    lines = _bob_csv(_pairs()).splitlines()
    lines[2] = lines[2].replace(",F,", ",None,", 1)
    path.write_text("\n".join(lines) + "\n")
    msg = _raises("line 3: column 'bio_ref_gender' has no value", ScoreSet.read_bob_csv, path)
    assert lines[2] in msg


def test_read_bob_csv_without_identity_columns_lists_columns(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text("probe_key,bio_ref_key,score\na,b,0.5\n")
    msg = _raises("is not a bob-csv file", ScoreSet.read_bob_csv, path)
    assert "bio_ref_subject_id" in msg and "['probe_key', 'bio_ref_key', 'score']" in msg


def test_fairaudit_csv_empty_cell_names_line(tmp_path):
    path = tmp_path / "s.csv"
    ScoreSet(_table()).save(path)
    lines = path.read_text().splitlines()
    assert '"F"' in lines[4]  # row 3 compares p3 (F) with p4 (M)
    lines[4] = lines[4].replace('"F"', "", 1)
    path.write_text("\n".join(lines) + "\n")
    msg = _raises("line 5: column 'gender_a' is empty", ScoreSet.read, path)
    assert lines[4] in msg


def test_read_detects_and_validates_format(tmp_path):
    path = tmp_path / "weird.dat"
    path.write_text("a b c\n")
    _raises("cannot tell the format", ScoreSet.read, path)
    _raises("format='bob-6col' is not a score file format", ScoreSet.read, path, format="bob-6col")
    _raises("does not exist", ScoreSet.read, tmp_path / "nope.csv")
    bad = tmp_path / "x.parquet"
    bad.write_text("not parquet")
    _raises("could not be read as Parquet", ScoreSet.read, bad)


def test_read_adds_identity_attributes_to_a_bob_csv(tmp_path):
    path = tmp_path / "scores.csv"
    path.write_text(_bob_csv(_pairs()))
    extra = pd.DataFrame({"age_group": {"p1": "young", "p2": "old", "p3": "old", "p4": "young"}})
    ss = ScoreSet.read(path, identity_attributes=extra, attributes=["gender"])
    assert ss.attribute_names == ["gender", "age_group"]
    assert ss.identity_table().loc["p2", "age_group"] == "old"


def test_bob_text_with_irregular_spacing_reads_like_single_spaces(tmp_path):
    regular, irregular = tmp_path / "a.txt", tmp_path / "b.txt"
    _write_4col(regular, _pairs())
    text = regular.read_text().splitlines()
    text[0] = "  " + text[0].replace(" ", "\t", 1)
    text[-1] = text[-1].replace(" ", "   ") + "  "
    irregular.write_text("\r\n".join(text) + "\r\n")
    ia = _identity_attributes()
    _assert_same(ScoreSet.read_bob_4col(irregular, identity_attributes=ia),
                 ScoreSet.read_bob_4col(regular, identity_attributes=ia))


def test_read_foreign_parquet_infers_attributes(tmp_path):
    path = tmp_path / "foreign.parquet"
    _table().to_parquet(path, index=False)
    _assert_same(ScoreSet.read(path), ScoreSet(_table()))


def test_read_empty_file_is_refused(tmp_path):
    from fairaudit.data.score_set import SCORE_FILE_EMPTY

    path = tmp_path / "empty.txt"
    path.write_text("\n\n")
    want = SCORE_FILE_EMPTY.format(path=str(path), detail="2 bytes, only blank lines")
    # the same answer whether the format is detected or given: the file holds no comparison
    for read in (lambda: ScoreSet.read(path), lambda: ScoreSet.read_bob_4col(path, identity_attributes=None),
                 lambda: ScoreSet.read(path, format="fairaudit-csv")):
        with pytest.raises(FairauditInputError) as info:
            read()
        assert str(info.value) == want


def test_from_arrays_refuses_scalar_attribute_values():
    _raises("attributes_a could not be read as one value per comparison", ScoreSet.from_arrays,
            [1.0, 0.0], identity_a=["a", "b"], identity_b=["a", "c"],
            attributes_a={"g": 5}, attributes_b={"g": ["x", "y"]})
