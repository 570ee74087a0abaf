"""Hostile data files and arguments: EmbeddingSet and ScoreSet.

Damaged or hand-edited files, other encodings, empty labels, numbers that do not
fit: each case asserts the exact one-line error built from the module's message
template, or, where the input is unambiguous (a byte-order mark, CRLF line ends),
that it is read exactly like the clean file.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fairaudit import EmbeddingSet, FairauditInputError, ScoreSet, errors
from fairaudit.common import files as io
from fairaudit.data import score_set as sc


def message_of(func, *args, **kwargs) -> str:
    with pytest.raises(FairauditInputError) as info:
        func(*args, **kwargs)
    return str(info.value)


def fixed_list(rows: list[list[float]]) -> pa.Array:
    width = len(rows[0])
    return pa.FixedSizeListArray.from_arrays(pa.array(np.ravel(rows), type=pa.float32()), width)


EYE3 = np.eye(3) + 0.1
IDS3 = np.array(["a", "b", "c"])


def saved(tmp: Path, suffix: str) -> Path:
    es = EmbeddingSet(EYE3, identity=IDS3, attributes={"g": ["x", "y", "y"]})
    return es.save(tmp / f"set{suffix}")


# --------------------------------------------------------------------------
# damaged or hand-edited EmbeddingSet files: (make the file, expected message)
def _zero_npz(tmp):
    (tmp / "s.npz").write_bytes(b"")
    return tmp / "s.npz", lambda p: errors.FILE_EMPTY.format(
        name="path", path=str(p), kind="an .npz", fix="write it again with EmbeddingSet.save().")


def _text_npz(tmp):
    (tmp / "s.npz").write_text("hello world\n")
    return tmp / "s.npz", lambda p: errors.FILE_NOT_FORMAT.format(
        name="path", path=str(p), kind="an .npz", head=b"hello world\n", what=", which looks like text",
        fix="pass an .npz file written by EmbeddingSet.save().")


def _npy_named_npz(tmp):
    np.save(tmp / "e.npy", EYE3)
    (tmp / "s.npz").write_bytes((tmp / "e.npy").read_bytes())
    head = (tmp / "e.npy").read_bytes()[:16]
    return tmp / "s.npz", lambda p: errors.FILE_NOT_FORMAT.format(
        name="path", path=str(p), kind="an .npz", head=head, what=", the start of a .npy array",
        fix="a .npy holds embeddings only: rename it to .npy and use EmbeddingSet.from_npy(path, "
            "identity=...) (CLI: DATA.npy --labels labels.csv).")


def _directory_npz(tmp):
    (tmp / "s.npz").mkdir()
    saved(tmp / "s.npz", ".npz")
    return tmp / "s.npz", lambda p: errors.PATH_IS_DIRECTORY.format(
        name="path", path=str(p), kind=".npz", inside=f", e.g. {str(p / 'set.npz')!r} (one of 1 in that directory)")


def _directory_parquet(tmp):
    (tmp / "s.parquet").mkdir()
    return tmp / "s.parquet", lambda p: errors.PATH_IS_DIRECTORY.format(
        name="path", path=str(p), kind=".parquet", inside="")


def _truncated_npz(tmp):
    whole = saved(tmp, ".npz").read_bytes()
    (tmp / "cut.npz").write_bytes(whole[:100])
    return tmp / "cut.npz", lambda p: errors.NPZ_UNREADABLE.format(path=str(p), detail="File is not a zip file")


def _npz(tmp, **arrays):
    np.savez(tmp / "s.npz", **arrays)
    return tmp / "s.npz"


def _npz_missing_identity(tmp):
    return _npz(tmp, embeddings=EYE3), lambda p: errors.NPZ_MISSING_KEY.format(
        path=str(p), key="identity", keys=["embeddings"])


def _npz_identity_2d(tmp):
    return _npz(tmp, embeddings=EYE3, identity=np.array([IDS3] * 3)), lambda p: errors.NPZ_ARRAY_SHAPE.format(
        path=str(p), key="identity", shape=(3, 3), expected="(n_samples,)")


def _npz_attribute_2d(tmp):
    path = _npz(tmp, embeddings=EYE3, identity=IDS3, attribute_names=np.array(["g"]),
                attribute_0=np.array([IDS3] * 3))
    return path, lambda p: errors.NPZ_ARRAY_SHAPE.format(
        path=str(p), key="attribute_0", shape=(3, 3), expected="(n_samples,)")


def _npz_attribute_array_missing(tmp):
    path = _npz(tmp, embeddings=EYE3, identity=IDS3, attribute_names=np.array(["g", "e"]),
                attribute_0=IDS3)
    return path, lambda p: errors.NPZ_ATTRIBUTE_ARRAY_MISSING.format(
        path=str(p), attribute="e", key="attribute_1",
        keys=["attribute_0", "attribute_names", "embeddings", "identity"])


def _npz_attribute_names_repeated(tmp):
    path = _npz(tmp, embeddings=EYE3, identity=IDS3, attribute_names=np.array(["g", "g"]),
                attribute_0=IDS3, attribute_1=IDS3)
    return path, lambda p: errors.NPZ_ATTRIBUTE_NAMES_REPEATED.format(path=str(p), names=["g"])


def _npz_identity_short(tmp):
    return _npz(tmp, embeddings=EYE3, identity=IDS3[:2]), lambda p: errors.NPZ_LENGTHS_DIFFER.format(
        path=str(p), lengths="embeddings 3, identity 2")


def _npz_attribute_short(tmp):
    path = _npz(tmp, embeddings=EYE3, identity=IDS3, attribute_names=np.array(["g"]),
                attribute_0=np.array(["x", "y"]))
    return path, lambda p: errors.NPZ_LENGTHS_DIFFER.format(
        path=str(p), lengths="embeddings 3, identity 3, attribute_0 2")


def _npz_failures_json(tmp):
    path = _npz(tmp, embeddings=EYE3, identity=IDS3, failures_json=np.array('{"columns": ["path"], "data": [1'))
    return path, lambda p: errors.STORED_JSON_INVALID.format(
        path=str(p), what="failures_json", detail=_pandas_json_error('{"columns": ["path"], "data": [1'),
        writer="EmbeddingSet.save()")


def _npz_newer_version(tmp):
    path = _npz(tmp, embeddings=EYE3, identity=IDS3, format_version=np.array(7))
    return path, lambda p: errors.FORMAT_VERSION_NEWER.format(path=str(p), version=7, supported=1)


def _npz_nan(tmp):
    emb = EYE3.copy()
    emb[1, 1] = np.nan
    return _npz(tmp, embeddings=emb, identity=IDS3), lambda p: errors.IN_FILE.format(
        path=str(p), message=errors.NON_FINITE_ROWS.format(count=1, rows=[1]))


def _npz_empty_identity(tmp):
    return _npz(tmp, embeddings=EYE3, identity=np.array(["a", "", "c"])), lambda p: errors.IN_FILE.format(
        path=str(p), message=errors.EMPTY_VALUES.format(name="identity", count=1, rows=[1]))


def _zero_parquet(tmp):
    (tmp / "s.parquet").write_bytes(b"")
    return tmp / "s.parquet", lambda p: errors.FILE_EMPTY.format(
        name="path", path=str(p), kind="a Parquet", fix="write it again with EmbeddingSet.save().")


def _text_parquet(tmp):
    (tmp / "s.parquet").write_text("identity,embedding\n")
    return tmp / "s.parquet", lambda p: errors.FILE_NOT_FORMAT.format(
        name="path", path=str(p), kind="a Parquet", head=b"identity,embeddi", what=", which looks like text",
        fix="pass a Parquet file written by EmbeddingSet.save().")


def _truncated_parquet(tmp):
    whole = saved(tmp, ".parquet").read_bytes()
    (tmp / "cut.parquet").write_bytes(whole[:len(whole) // 2])
    try:
        pq.read_schema(tmp / "cut.parquet")
    except pa.ArrowException as exc:
        detail = str(exc).strip()
    return tmp / "cut.parquet", lambda p: errors.PARQUET_FILE_UNREADABLE.format(path=str(p), detail=detail,
                                                                                   writer="EmbeddingSet.save()")


def _parquet(tmp, table: pa.Table) -> Path:
    pq.write_table(table, tmp / "s.parquet")
    return tmp / "s.parquet"


def _parquet_scalar_embedding(tmp):
    path = _parquet(tmp, pa.table({"identity": IDS3, "embedding": [0.5, 0.7, 0.9]}))
    return path, lambda p: errors.PARQUET_EMBEDDING_TYPE.format(path=str(p), type="double")


def _parquet_string_embedding(tmp):
    path = _parquet(tmp, pa.table({"identity": IDS3, "embedding": [["1"], ["2"], ["3"]]}))
    return path, lambda p: errors.PARQUET_EMBEDDING_TYPE.format(path=str(p), type="list<element: string>")


def _parquet_ragged_embedding(tmp):
    path = _parquet(tmp, pa.table({"identity": IDS3, "embedding": [[0.5, 1.0], [0.7], [1.0, 2.0, 3.0]]}))
    return path, lambda p: errors.PARQUET_EMBEDDING_RAGGED.format(
        path=str(p), lengths="lengths seen: 1, 2, 3", rows=[1, 2])


def _parquet_null_embedding(tmp):
    path = _parquet(tmp, pa.table({"identity": IDS3, "embedding": [[0.5, 1.0], None, [1.0, 2.0]]}))
    return path, lambda p: errors.PARQUET_EMBEDDING_NULL.format(path=str(p), count=1, rows=[1])


def _parquet_list_identity(tmp):
    path = _parquet(tmp, pa.table({"identity": [["a"], ["b"], ["c"]], "embedding": fixed_list(EYE3.tolist())}))
    return path, lambda p: errors.PARQUET_LABEL_TYPE.format(
        path=str(p), column="identity", type="list<element: string>", writer="EmbeddingSet.save()")


def _parquet_duplicate_columns(tmp):
    table = pa.Table.from_arrays([pa.array(IDS3), fixed_list(EYE3.tolist()), pa.array(IDS3)],
                                 names=["identity", "embedding", "identity"])
    return _parquet(tmp, table), lambda p: errors.PARQUET_DUPLICATE_COLUMNS.format(
        path=str(p), columns=["identity"])


def _parquet_bad_metadata(tmp):
    table = pa.table({"identity": IDS3, "embedding": fixed_list(EYE3.tolist())})
    path = _parquet(tmp, table.replace_schema_metadata({b"fairaudit": b"{attributes: []}"}))
    try:
        json.loads("{attributes: []}")
    except ValueError as exc:
        detail = str(exc)
    return path, lambda p: errors.STORED_JSON_INVALID.format(
        path=str(p), what="Parquet metadata 'fairaudit'", detail=detail, writer="EmbeddingSet.save()")


def _parquet_metadata_not_object(tmp):
    table = pa.table({"identity": IDS3, "embedding": fixed_list(EYE3.tolist())})
    path = _parquet(tmp, table.replace_schema_metadata({b"fairaudit": b"[1, 2]"}))
    return path, lambda p: errors.STORED_JSON_INVALID.format(
        path=str(p), what="Parquet metadata 'fairaudit'", detail="expected a JSON object, got list",
        writer="EmbeddingSet.save()")


def _parquet_bad_failures(tmp):
    table = pa.table({"identity": IDS3, "embedding": fixed_list(EYE3.tolist())})
    meta = json.dumps({"format_version": 1, "failures": "[[["}).encode()
    path = _parquet(tmp, table.replace_schema_metadata({b"fairaudit": meta}))
    return path, lambda p: errors.STORED_JSON_INVALID.format(
        path=str(p), what="failures in the Parquet metadata 'fairaudit'", detail=_pandas_json_error("[[["),
        writer="EmbeddingSet.save()")


def _pandas_json_error(text: str) -> str:
    import io as _io

    try:
        frame = pd.read_json(_io.StringIO(text), orient="split", dtype=False)
    except (ValueError, TypeError, AttributeError, KeyError) as exc:
        return str(exc).strip().splitlines()[0]
    raise AssertionError(f"pandas read {text!r} as {frame!r}")


@pytest.mark.parametrize("make", [
    _zero_npz, _text_npz, _npy_named_npz, _directory_npz, _directory_parquet, _truncated_npz,
    _npz_missing_identity, _npz_identity_2d, _npz_attribute_2d, _npz_attribute_array_missing,
    _npz_attribute_names_repeated, _npz_identity_short, _npz_attribute_short, _npz_failures_json,
    _npz_newer_version, _npz_nan, _npz_empty_identity, _zero_parquet, _text_parquet, _truncated_parquet,
    _parquet_scalar_embedding, _parquet_string_embedding, _parquet_ragged_embedding, _parquet_null_embedding,
    _parquet_list_identity, _parquet_duplicate_columns, _parquet_bad_metadata, _parquet_metadata_not_object,
    _parquet_bad_failures,
], ids=lambda f: f.__name__.strip("_"))
def test_damaged_embedding_file_is_one_line_error(tmp_path, make):
    path, expected = make(tmp_path)
    msg = message_of(EmbeddingSet.load, path)
    assert msg == expected(path)
    assert "\n" not in msg


@pytest.mark.parametrize("make", [_parquet_null_embedding, _parquet_scalar_embedding],
                         ids=["null-row", "scalar"])
def test_damaged_parquet_is_refused_out_of_core_too(tmp_path, make):
    path, expected = make(tmp_path)
    if make is _parquet_null_embedding:  # out of core needs the fixed-size list EmbeddingSet.save writes
        rows = pa.array([[0.5, 1.0], None, [1.0, 2.0]], type=pa.list_(pa.float32(), 2))
        path = _parquet(tmp_path, pa.table({"identity": IDS3, "embedding": rows}))
    assert message_of(EmbeddingSet.load, path, out_of_core=True) == expected(path)


def test_uniform_variable_size_lists_from_other_writers_are_read(tmp_path):
    path = _parquet(tmp_path, pa.table({"identity": IDS3, "embedding": EYE3.tolist()}))  # list<double>
    es = EmbeddingSet.load(path)
    np.testing.assert_array_equal(es.embeddings, EYE3.astype(np.float32))


# --------------------------------------------------------------------------
# .npy files for EmbeddingSet.from_npy
def _npy(tmp, array, **kwargs):
    np.save(tmp / "e.npy", array, **kwargs)
    return tmp / "e.npy"


def _zero_npy(tmp):
    (tmp / "e.npy").write_bytes(b"")
    return tmp / "e.npy", lambda p: errors.FILE_EMPTY.format(
        name="file", path=str(p), kind="a .npy", fix="write it again with numpy.save().")


def _text_npy(tmp):
    (tmp / "e.npy").write_text("0.1 0.2\n0.3 0.4\n")
    return tmp / "e.npy", lambda p: errors.FILE_NOT_FORMAT.format(
        name="file", path=str(p), kind="a .npy", head=b"0.1 0.2\n0.3 0.4\n", what=", which looks like text",
        fix="pass a .npy file written by numpy.save().")


def _object_npy(tmp):
    path = _npy(tmp, np.array([[0.1, "x"], [0.2, "y"]], dtype=object), allow_pickle=True)
    return path, lambda p: errors.NPY_NOT_FLOAT.format(
        path=str(p), dtype="object (Python objects, readable only with pickle)")


def _int_npy(tmp):
    return _npy(tmp, np.ones((2, 2), dtype=np.int64)), lambda p: errors.NPY_NOT_FLOAT.format(
        path=str(p), dtype="int64")


def _complex_npy(tmp):
    return _npy(tmp, np.ones((2, 2), dtype=complex)), lambda p: errors.IN_FILE.format(
        path=str(p), message=errors.EMB_COMPLEX.format(dtype="complex128"))


def _truncated_npy(tmp):
    path = _npy(tmp, np.eye(2))
    path.write_bytes(path.read_bytes()[:-8])
    return path, lambda p: errors.NPY_TRUNCATED.format(path=str(p), shape=(2, 2), dtype="float64", need=32,
                                                       have=24)


def _directory_npy(tmp):
    (tmp / "e.npy").mkdir()
    return tmp / "e.npy", lambda p: errors.PATH_IS_DIRECTORY.format(name="file", path=str(p), kind=".npy",
                                                                    inside="")


def _huge_npy(tmp):
    return _npy(tmp, np.array([[1e39, 1.0], [1.0, 2.0]])), lambda p: errors.IN_FILE.format(
        path=str(p), message=errors.EMB_OUT_OF_FLOAT32.format(count=1, rows=[0], problem="exceed",
                                                              becomes="inf"))


@pytest.mark.parametrize("make", [_zero_npy, _text_npy, _object_npy, _int_npy, _complex_npy, _truncated_npy,
                                  _directory_npy, _huge_npy], ids=lambda f: f.__name__.strip("_"))
def test_bad_npy_is_one_line_error(tmp_path, make):
    path, expected = make(tmp_path)
    assert message_of(EmbeddingSet.from_npy, path, identity=["a", "b"]) == expected(path)


# --------------------------------------------------------------------------
# EmbeddingSet arguments
FOUR = np.eye(4) + 0.1
IDS4 = ["a", "a", "b", "b"]


@pytest.mark.parametrize("kwargs, expected", [
    pytest.param(dict(attributes={"g": list("xxyy"), "e": list("xyy")}),
                 errors.LENGTH_MISMATCH.format(name="attribute 'e'", got=3, n=4), id="unequal-attribute-lengths"),
    pytest.param(dict(attributes={"g": "xxyy"}),
                 errors.LABEL_NOT_SEQUENCE.format(name="attribute 'g'", per="embedding row", value="'xxyy'",
                                                  type="str"), id="attribute-is-a-string"),
    pytest.param(dict(attributes={"g": 5}),
                 errors.LABEL_NOT_SEQUENCE.format(name="attribute 'g'", per="embedding row", value="5",
                                                  type="int"), id="attribute-is-a-scalar"),
    pytest.param(dict(identity="aabb"),
                 errors.LABEL_NOT_SEQUENCE.format(name="identity", per="embedding row", value="'aabb'",
                                                  type="str"), id="identity-is-a-string"),
    pytest.param(dict(identity=["a", "a", "", "b"]),
                 errors.EMPTY_VALUES.format(name="identity", count=1, rows=[2]), id="empty-identity"),
    pytest.param(dict(attributes={"g": ["x", "x", " ", "\t"]}),
                 errors.EMPTY_VALUES.format(name="attribute 'g'", count=2, rows=[2, 3]), id="blank-attribute"),
    pytest.param(dict(identity=["a", "a ", "b", "b"]),
                 errors.LABELS_DIFFER_BY_SPACE.format(name="identity", examples="'a' and 'a '", what="identities"),
                 id="identities-differing-by-a-space"),
    pytest.param(dict(attributes=pd.DataFrame({1: list("xxyy"), "1": list("xxyy")})),
                 errors.ATTRIBUTE_NAMES_CLASH.format(names=["1"]), id="column-names-equal-as-text"),
    pytest.param(dict(embeddings=np.array([[1e39, 1.0], [1.0, 1.0], [1.0, 2.0], [2.0, 1.0]])),
                 errors.EMB_OUT_OF_FLOAT32.format(count=1, rows=[0], problem="exceed", becomes="inf"),
                 id="beyond-float32"),
    pytest.param(dict(embeddings=np.array([[1e-50, 0.0], [1.0, 1.0], [1.0, 2.0], [2.0, 1.0]])),
                 errors.EMB_OUT_OF_FLOAT32.format(count=1, rows=[0], problem="all fall below", becomes="zeros"),
                 id="below-float32"),
    pytest.param(dict(embeddings=FOUR * (1 + 1j)), errors.EMB_COMPLEX.format(dtype="complex128"), id="complex"),
    pytest.param(dict(embeddings=np.ones((4, 2), dtype="m8[s]")),
                 errors.EMB_NOT_NUMERIC.format(dtype="timedelta64[s]"), id="timedelta"),
    pytest.param(dict(embeddings=np.array([["0.1", "0.2"]] * 4)), errors.EMB_NOT_NUMERIC.format(dtype="<U3"),
                 id="strings"),
])
def test_hostile_embedding_arguments(kwargs, expected):
    kw = dict(embeddings=FOUR, identity=IDS4)
    kw.update(kwargs)
    assert message_of(lambda: EmbeddingSet(kw.pop("embeddings"), **kw)) == expected


def test_bool_embeddings_are_binary_codes():
    codes = np.array([[1, 0, 1], [1, 1, 0], [0, 1, 1], [1, 1, 1]], dtype=bool)
    es = EmbeddingSet(codes, identity=IDS4)
    np.testing.assert_array_equal(es.embeddings, codes.astype(np.float32))


def test_rescaling_as_the_message_says_gives_the_same_scores():
    emb = np.array([[1e39, 3e38], [1.0, 2.0], [2.0, 1.0], [1.0, 1.0]])
    rescaled = emb / np.abs(emb).max(axis=1, keepdims=True)
    es = EmbeddingSet(rescaled, identity=IDS4)
    unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
    np.testing.assert_allclose(es.normalized() @ es.normalized().T, unit @ unit.T, rtol=1e-6)


# --------------------------------------------------------------------------
# writing to places that cannot be written
@pytest.mark.parametrize("kind", ["embeddings-npz", "embeddings-parquet", "scores-csv", "scores-parquet"])
@pytest.mark.parametrize("where", ["under-a-file", "is-a-directory"])
def test_save_to_an_unwritable_place_is_an_output_path_error(tmp_path, kind, where):
    suffix = "." + kind.split("-")[1]
    data = (EmbeddingSet(EYE3, identity=IDS3) if kind.startswith("embeddings")
            else ScoreSet.from_arrays([0.9, 0.1], identity_a=["a", "a"], identity_b=["a", "b"]))
    (tmp_path / "afile").write_text("keep me")
    target = tmp_path / "afile" / f"x{suffix}" if where == "under-a-file" else tmp_path / f"d{suffix}"
    if where == "is-a-directory":
        target.mkdir()
    with pytest.raises(io.OutputPathError) as want:
        io.check_output(target, name="path")
    with pytest.raises(io.OutputPathError) as got:
        data.save(target)
    assert str(got.value) == str(want.value) and "\n" not in str(got.value)
    assert (tmp_path / "afile").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["afile"] + ([target.name] if target.is_dir() else []))


# --------------------------------------------------------------------------
# ScoreSet arguments
def _ss(**changes):
    kw = dict(identity_a=["a", "a", "b"], identity_b=["a", "b", "c"])
    score = changes.pop("score", [0.9, 0.1, 0.2])
    kw.update(changes)
    return ScoreSet.from_arrays(score, **kw)


@pytest.mark.parametrize("kwargs, expected", [
    pytest.param(dict(score=np.array([0.9, 0.1, 0.2]) + 0j), sc.SCORE_COMPLEX.format(dtype="complex128"),
                 id="complex-scores"),
    pytest.param(dict(score=np.array([0.9 + 1j, 0.1, 0.2], dtype=object)),
                 sc.SCORE_COMPLEX.format(dtype="object (complex values)"), id="complex-python-numbers"),
    pytest.param(dict(score=np.array([1, 2, 3], dtype="m8[s]")),
                 sc.SCORE_NOT_NUMERIC.format(dtype="timedelta64[s]", detail=""), id="timedelta-scores"),
    pytest.param(dict(identity_a=["a", "", "b"]), errors.EMPTY_VALUES.format(name="identity_a", count=1, rows=[1]),
                 id="empty-identity"),
    pytest.param(dict(identity_b=["a", "b ", "c"]),
                 errors.LABELS_DIFFER_BY_SPACE.format(name="identity_a/identity_b", examples="'b' and 'b '",
                                                      what="identities"), id="identities-differing-by-a-space"),
    pytest.param(dict(attributes_a={"g": ["x", "x", "y"]}, attributes_b={"g": ["x", "y", "  "]}),
                 errors.EMPTY_VALUES.format(name="g_b", count=1, rows=[2]), id="blank-attribute"),
    pytest.param(dict(attributes_a={"g": ["x", "x", "y"], "e": ["u"]}, attributes_b={"g": ["x", "y", "z"], "e": ["u"] * 3}),
                 sc.ARRAY_LENGTH_MISMATCH.format(name="attributes_a['e']", got=1, n=3), id="unequal-attribute-lengths"),
    pytest.param(dict(attributes_a={"g": "xxy"}, attributes_b={"g": ["x", "y", "z"]}),
                 errors.LABEL_NOT_SEQUENCE.format(name="attributes_a['g']", per="comparison", value="'xxy'",
                                                  type="str"), id="attribute-is-a-string"),
])
def test_hostile_score_arguments(kwargs, expected):
    assert message_of(_ss, **kwargs) == expected


def test_identity_table_with_blank_value_is_refused():
    pairs = pd.DataFrame({"score": [0.9, 0.1], "identity_a": ["a", "a"], "identity_b": ["a", "b"]})
    people = pd.DataFrame({"g": ["x", " "]}, index=["a", "b"])
    assert message_of(ScoreSet.from_identity_table, pairs, people) == sc.IDENTITY_TABLE_EMPTY_VALUES.format(
        count=1, column="g", identities=["b"])


def test_a_set_without_attributes_says_where_attributes_come_from(tmp_path):
    path = tmp_path / "scores.txt"
    path.write_text("p1 p1 s0 0.9\np1 p2 s1 0.1\n")
    from_file = ScoreSet.read(path)
    assert from_file.source == (str(path), "bob-4col")
    assert message_of(from_file.resolve_by, "gender") == sc.NO_ATTRIBUTES_IN_FILE.format(
        value="gender", path=str(path), format="bob-4col", why=": Bob's 4-column format has no attribute columns")
    in_memory = _ss()
    assert in_memory.source is None
    assert message_of(in_memory.resolve_by, ["gender"]) == sc.NO_ATTRIBUTES.format(value=["gender"])
    with_attrs = _ss(attributes_a={"g": ["x", "x", "y"]}, attributes_b={"g": ["x", "y", "z"]})
    assert with_attrs.resolve_by("g") == ("g",)
    assert message_of(with_attrs.resolve_by, "e") == errors.UNKNOWN_ATTRIBUTE.format(
        name="by", value="e", available=["g"])


# --------------------------------------------------------------------------
# score files: (file name, bytes, read options, expected message)
LATIN = "pé p1 s0 0.9\np1 p2 s1 0.1\n".encode("latin-1")
FOUR_COL = "p1 p1 s0 0.9\np1 p2 s1 0.1\np2 p2 s2 0.8\n"


def _not_utf8(offset, line, bad="0xe9", guess=" (in Latin-1 it would be 'é')", source="LATIN1"):
    def expected(p):
        converted = str(p.with_name(f"{p.stem}-utf8{p.suffix}"))
        return sc.TEXT_NOT_UTF8.format(path=str(p), offset=offset, line=line, bad=bad, guess=guess, source=source,
                                       quoted=str(p), converted=converted)
    return expected


def _empty(detail):
    return lambda p: sc.SCORE_FILE_EMPTY.format(path=str(p), detail=detail)


def _parquet_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


PAIRS = {"score": [0.9, 0.1], "identity_a": ["a", "a"], "identity_b": ["a", "b"]}
LONG_LABEL = "x" * 300
LONG_LINE = f"p1 p2 {LONG_LABEL} abc"

SCORE_FILES = [
    pytest.param("s.txt", LATIN, {}, _not_utf8(1, 1), id="latin1-4col"),
    pytest.param("s.txt", ("p1 p1 s0 0.9\n" * 3 + "pé p2 s1 0.1\n").encode("latin-1"), {"format": "bob-4col"},
                 _not_utf8(40, 4), id="latin1-4col-later-line"),
    pytest.param("s.txt", "p1 m p1 s0 0.9\npé m p2 s1 0.1\n".encode("latin-1"), {"format": "bob-5col"},
                 _not_utf8(16, 2), id="latin1-5col"),
    pytest.param("s.csv", "score,identity_a,identity_b\n0.9,pé,pé\n0.1,a,b\n".encode("latin-1"), {},
                 _not_utf8(33, 2), id="latin1-csv"),
    pytest.param("s.txt", FOUR_COL.encode("utf-16"), {},
                 _not_utf8(0, 1, bad="0xff", guess=" (the file starts with a UTF-16 byte-order mark)",
                           source="UTF-16"), id="utf16-with-bom"),
    pytest.param("s.csv", "score,identity_a,identity_b\n0.9,a,a\n".encode("utf-16-le"), {},
                 lambda p: sc.TEXT_HAS_NUL.format(path=str(p), offset=1, line=1, quoted=str(p),
                                                  converted=str(p.with_name("s-utf8.csv"))), id="utf16-without-bom"),
    pytest.param("s.txt", b"", {}, _empty("0 bytes"), id="empty-detected"),
    pytest.param("s.txt", b"", {"format": "bob-4col"}, _empty("0 bytes"), id="empty-bob-4col"),
    pytest.param("s.csv", b"", {"format": "bob-csv"}, _empty("0 bytes"), id="empty-bob-csv"),
    pytest.param("s.parquet", b"", {}, _empty("0 bytes"), id="empty-parquet"),
    pytest.param("s.txt", b"\n \n\t\r\n", {}, _empty("6 bytes, only blank lines"), id="blank-lines-only"),
    pytest.param("s.csv", b"score,identity_a,identity_b\n", {},
                 lambda p: sc.SCORE_FILE_NO_ROWS.format(path=str(p), what="a header (score, identity_a, identity_b)"),
                 id="header-only-csv"),
    pytest.param("s.csv", b"bio_ref_subject_id, probe_subject_id, score\r\n", {},
                 lambda p: sc.SCORE_FILE_NO_ROWS.format(
                     path=str(p), what="a header (bio_ref_subject_id, probe_subject_id, score)"),
                 id="header-only-bob-csv"),
    pytest.param("s.parquet", _parquet_bytes(pa.table({k: pa.array([], pa.string() if k != "score" else pa.float64())
                                                      for k in PAIRS})), {},
                 lambda p: sc.SCORE_FILE_NO_ROWS.format(path=str(p), what="the columns ['score', 'identity_a', "
                                                                         "'identity_b']"), id="no-rows-parquet"),
    pytest.param("s.txt", b"p1 p1 s0 0.9 extra\np1 p2 s1 0.1\n", {},
                 lambda p: sc.LINE_EXTRA_FIELD.format(path=str(p), line=1, value="extra", fourth="0.9",
                                                      content="p1 p1 s0 0.9 extra"), id="extra-field-on-first-line"),
    pytest.param("s.txt", b"p1 m p1 s0 0.9\np1 m p2 s1 0.1\n", {"format": "bob-4col"},
                 lambda p: sc.LINE_FIELDS.format(
                     path=str(p), line=1, expected=4, layout="claimed_id real_id test_label score", found=5,
                     content="p1 m p1 s0 0.9",
                     hint=sc.LINE_FIELDS_OTHER_FORMAT.format(found=5, other="bob-5col")), id="5col-read-as-4col"),
    pytest.param("s.txt", FOUR_COL.encode(), {"format": "bob-5col"},
                 lambda p: sc.LINE_FIELDS.format(
                     path=str(p), line=1, expected=5, layout="claimed_id model_label real_id test_label score",
                     found=4, content="p1 p1 s0 0.9",
                     hint=sc.LINE_FIELDS_OTHER_FORMAT.format(found=4, other="bob-4col")), id="4col-read-as-5col"),
    pytest.param("s.txt", b"\np1 p1 s0 0.9\np1 p2 s1 0.1 extra\n", {},
                 lambda p: sc.LINE_FIELDS.format(
                     path=str(p), line=3, expected=4, layout="claimed_id real_id test_label score", found=5,
                     content="p1 p2 s1 0.1 extra",
                     hint=sc.LINE_FIELDS_DETECTED.format(format="bob-4col", first=2, expected=4)),
                 id="extra-field-after-detection"),
    pytest.param("s.txt", b"p1 p1 s0 0_5\np1 p2 s1 0.1\n", {},
                 lambda p: sc.LINE_SCORE.format(path=str(p), line=1, value="0_5",
                                                problem="is not a number" + sc.UNDERSCORE_HINT,
                                                content="p1 p1 s0 0_5"), id="underscore-score-text"),
    pytest.param("s.txt", b"p1 p1 s0 0,9\np1 p2 s1 0,1\n", {},
                 lambda p: sc.LINE_SCORE.format(path=str(p), line=1, value="0,9",
                                                problem="is not a number" + sc.DECIMAL_COMMA_HINT.format(fixed="0.9"),
                                                content="p1 p1 s0 0,9"), id="decimal-comma-text"),
    pytest.param("s.csv", b'score,identity_a,identity_b\n"0,9",a,a\n0.1,a,b\n', {},
                 lambda p: sc.CSV_BAD_CELL.format(
                     path=str(p), line=2, column="score", content='"0,9",a,a',
                     problem="holds '0,9', which is not a number" + sc.DECIMAL_COMMA_HINT.format(fixed="0.9")
                             + " (1 such row(s) in the file)"), id="decimal-comma-csv"),
    pytest.param("s.csv", b"score,identity_a,identity_b\n0.9,a,a\n0.1, ,b\n", {},
                 lambda p: sc.CSV_BAD_CELL.format(path=str(p), line=3, column="identity_a", content="0.1, ,b",
                                                  problem="is empty or blank (1 such row(s) in the file)"),
                 id="blank-cell-csv"),
    pytest.param("s.txt", f"p1 p1 s0 0.9\n{LONG_LINE}\n".encode(), {},
                 lambda p: sc.LINE_SCORE.format(path=str(p), line=2, value="abc", problem="is not a number",
                                                content=LONG_LINE[:200] + f"... ({len(LONG_LINE)} characters)"),
                 id="long-bad-line-is-clipped"),
    pytest.param("s.parquet", _parquet_bytes(pa.table({**PAIRS, "score": [0.9, float("nan")]})), {},
                 lambda p: sc.READ_CONTEXT.format(path=str(p), format="fairaudit-parquet",
                                                  message=sc.SCORE_NON_FINITE.format(count=1, rows=[1])),
                 id="nan-score-parquet"),
    pytest.param("s.parquet", _parquet_bytes(pa.table({**PAIRS, "identity_b": ["a", ""]})), {},
                 lambda p: sc.READ_CONTEXT.format(path=str(p), format="fairaudit-parquet",
                                                  message=errors.EMPTY_VALUES.format(name="identity_b", count=1,
                                                                                     rows=[1])),
                 id="empty-identity-parquet"),
    pytest.param("s.parquet", _parquet_bytes(pa.table(PAIRS).replace_schema_metadata(
        {b"fairaudit": b'{"attributes": "gender"}'})), {},
                 lambda p: errors.STORED_JSON_INVALID.format(
                     path=str(p), what="attribute list in the Parquet metadata 'fairaudit'",
                     detail="expected a list of names, got 'gender'", writer="ScoreSet.save()"),
                 id="bad-attribute-metadata-parquet"),
    pytest.param("s.parquet", _parquet_bytes(pa.table({**PAIRS, "identity_a": [["a"], ["a"]]})), {},
                 lambda p: errors.PARQUET_LABEL_TYPE.format(path=str(p), column="identity_a",
                                                            type="list<element: string>", writer="ScoreSet.save()"),
                 id="list-identity-parquet"),
]


@pytest.mark.parametrize("name, content, options, expected", SCORE_FILES)
def test_hostile_score_file_is_one_line_error(tmp_path, name, content, options, expected):
    path = tmp_path / name
    path.write_bytes(content)
    msg = message_of(ScoreSet.read, path, **options)
    assert msg == expected(path)
    assert "\n" not in msg


def test_score_file_that_is_a_directory(tmp_path):
    assert message_of(ScoreSet.read, tmp_path) == errors.PATH_IS_DIRECTORY.format(
        name="path", path=str(tmp_path), kind="score", inside="")


def test_utf8_error_position_is_exact_across_read_chunks(tmp_path):
    # the bad byte lies after a multi-byte character cut by the chunk boundary of the scan
    path = tmp_path / "s.txt"
    text = ("é" * 7 + "\n").encode() * 3 + b"x\xff\n"
    path.write_bytes(text)
    assert sc._first_bad_utf8(path, chunk_size=5) == (text.index(b"\xff"), 4, b"\xff")
    path.write_bytes(text[:-2] + "é".encode()[:1])  # a character cut by the end of the file
    assert sc._first_bad_utf8(path, chunk_size=5) == (len(text) - 2, 4, "é".encode()[:1])


# --------------------------------------------------------------------------
# unambiguous variations are read exactly like the clean file
CLEAN_CSV = "score,identity_a,identity_b,gender_a,gender_b\n0.9,a,a,F,F\n0.1,a,b,F,M\n0.2,b,c,M,M\n"
CLEAN_BOB = ("bio_ref_subject_id,probe_subject_id,bio_ref_gender,probe_gender,score\n"
             "a,a,F,F,0.9\na,b,F,M,0.1\nb,c,M,M,0.2\n")


@pytest.mark.parametrize("clean, variant", [
    pytest.param(CLEAN_CSV.encode(), b"\xef\xbb\xbf" + CLEAN_CSV.replace("\n", "\r\n").encode(), id="csv-bom-crlf"),
    pytest.param(CLEAN_BOB.encode(), b"\xef\xbb\xbf" + CLEAN_BOB.replace("\n", "\r\n").encode(), id="bob-csv-bom-crlf"),
    pytest.param(FOUR_COL.encode(), b"\xef\xbb\xbf" + FOUR_COL.replace("\n", "\r\n").encode(), id="4col-bom-crlf"),
    pytest.param(FOUR_COL.encode(), FOUR_COL.replace(" ", "\t").encode(), id="4col-tabs"),
    pytest.param(CLEAN_CSV.encode(), (CLEAN_CSV.rstrip("\n")).encode(), id="csv-no-final-newline"),
])
def test_unambiguous_variants_read_like_the_clean_file(tmp_path, clean, variant):
    suffix = ".txt" if clean.startswith(b"p1") else ".csv"
    (tmp_path / f"clean{suffix}").write_bytes(clean)
    (tmp_path / f"variant{suffix}").write_bytes(variant)
    want = ScoreSet.read(tmp_path / f"clean{suffix}")
    got = ScoreSet.read(tmp_path / f"variant{suffix}")
    pd.testing.assert_frame_equal(got.table, want.table)


def test_duplicate_rows_are_counted_as_listed(tmp_path):
    # scores cannot tell two runs of one comparison from two comparisons: both count (documented)
    path = tmp_path / "s.txt"
    path.write_text(FOUR_COL + "p1 p2 s1 0.1\n")
    ss = ScoreSet.read(path)
    assert (len(ss), ss.n_impostor) == (4, 2)


def test_very_long_lines_are_read(tmp_path):
    label = "y" * 2_000_000  # longer than pyarrow's CSV block
    path = tmp_path / "s.csv"
    path.write_text(f"score,identity_a,identity_b,note\n0.9,a,a,{label}\n0.1,a,b,x\n")
    ss = ScoreSet.read(path)
    np.testing.assert_array_equal(ss.scores, [0.9, 0.1])


def test_an_npz_member_that_is_not_an_array_is_refused(tmp_path):
    path = saved(tmp_path, ".npz")
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("path.npy", b"not an array")
    assert message_of(EmbeddingSet.load, path) == errors.NPZ_UNREADABLE.format(
        path=str(path), detail="the member 'path' is not a numpy array")


@pytest.mark.parametrize("make", [_zero_parquet, _text_parquet, _directory_parquet], ids=["empty", "text", "dir"])
def test_parquet_kind_check_for_the_command_line_is_one_line_error(tmp_path, make):
    from fairaudit.data.embedding_set import parquet_has_embeddings

    path, _ = make(tmp_path)
    msg = message_of(parquet_has_embeddings, path)
    assert msg == message_of(EmbeddingSet.load, path).replace("EmbeddingSet.save()",
                                                              "EmbeddingSet.save() or ScoreSet.save()")
    assert parquet_has_embeddings(saved(tmp_path, ".parquet")) is True
    ScoreSet.from_arrays([0.9, 0.1], identity_a=["a", "a"], identity_b=["a", "b"]).save(tmp_path / "sc.parquet")
    assert parquet_has_embeddings(tmp_path / "sc.parquet") is False
