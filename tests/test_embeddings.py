"""EmbeddingSet: validation with exact messages, and lossless .npz / .parquet files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairaudit import EmbeddingSet, errors


def small(n=6, d=4, seed=0):
    rng = np.random.default_rng(seed)
    return dict(
        embeddings=rng.standard_normal((n, d)),
        identity=[f"id{i // 2}" for i in range(n)],
        attributes={"gender": ["F", "F", "M", "M", "F", "F"][:n], "ethnicity": list("AABBCC")[:n]},
    )


def build(**changes):
    kw = small()
    kw.update(changes)
    emb = kw.pop("embeddings")
    return EmbeddingSet(emb, **kw)


def test_valid_set_exposes_its_parts():
    es = build(path=[f"img{i}.jpg" for i in range(6)])
    assert len(es) == 6 and es.n_identities == 3 and es.n_features == 4
    assert es.embeddings.dtype == np.float32
    assert es.attribute_names == ["gender", "ethnicity"]
    assert list(es.path) == [f"img{i}.jpg" for i in range(6)]
    np.testing.assert_allclose(np.linalg.norm(es.normalized(), axis=1), 1.0, rtol=1e-6)
    assert "n_identities=3" in repr(es)


def test_embeddings_are_read_only():
    es = build()
    with pytest.raises(ValueError):
        es.embeddings[0, 0] = 1.0


def test_one_dimensional_embeddings_are_refused():
    with pytest.raises(errors.FairauditInputError) as info:
        build(embeddings=np.zeros(6))
    assert str(info.value) == errors.EMB_NOT_2D.format(shape=(6,))


def test_non_numeric_embeddings_are_refused():
    with pytest.raises(errors.FairauditInputError) as info:
        build(embeddings=np.array([["a", "b"]] * 6))
    assert "must be numeric" in str(info.value)


def test_length_mismatch_names_the_argument():
    with pytest.raises(errors.FairauditInputError) as info:
        build(identity=["a", "b", "c"])
    assert str(info.value) == errors.LENGTH_MISMATCH.format(name="identity", got=3, n=6)


def test_nan_and_inf_rows_are_named():
    emb = small()["embeddings"]
    emb[1, 2] = np.nan
    emb[4, 0] = np.inf
    with pytest.raises(errors.FairauditInputError) as info:
        build(embeddings=emb)
    assert str(info.value) == errors.NON_FINITE_ROWS.format(count=2, rows=[1, 4])


def test_zero_norm_rows_are_named():
    emb = small()["embeddings"]
    emb[3] = 0
    with pytest.raises(errors.FairauditInputError) as info:
        build(embeddings=emb)
    assert str(info.value) == errors.ZERO_NORM_ROWS.format(count=1, rows=[3])


def test_fewer_than_two_identities_is_refused():
    with pytest.raises(errors.FairauditInputError) as info:
        build(identity=["x"] * 6)
    assert str(info.value) == errors.TOO_FEW_IDENTITIES.format(n=1)


def test_identity_whose_attribute_changes_is_named():
    with pytest.raises(errors.FairauditInputError) as info:
        build(attributes={"gender": ["F", "M", "M", "M", "F", "F"]})
    assert str(info.value) == errors.ATTRIBUTE_NOT_CONSTANT.format(column="gender", identity="id0", values=["F", "M"])


def test_missing_attribute_values_are_refused_not_dropped():
    with pytest.raises(errors.FairauditInputError) as info:
        build(attributes={"gender": ["F", None, "M", "M", "F", "F"]})
    assert str(info.value) == errors.MISSING_VALUES.format(name="attribute 'gender'", count=1, rows=[1])


def test_reserved_attribute_name_is_refused():
    with pytest.raises(errors.FairauditInputError) as info:
        build(attributes={"identity": list("aabbcc")})
    assert "reserved" in str(info.value)


def test_attributes_of_wrong_type_are_refused():
    with pytest.raises(errors.FairauditInputError) as info:
        build(attributes=[1, 2, 3])
    assert str(info.value) == errors.ATTRIBUTES_NOT_TABLE.format(type="list")


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_save_and_load_round_trip(tmp_path, suffix):
    es = build(path=[f"dir/img{i}.jpg" for i in range(6)])
    path = es.save(tmp_path / f"set{suffix}")
    back = EmbeddingSet.load(path)
    np.testing.assert_array_equal(back.embeddings, es.embeddings)
    np.testing.assert_array_equal(back.identity, es.identity)
    pd.testing.assert_frame_equal(back.attributes, es.attributes)
    np.testing.assert_array_equal(back.path, es.path)


def test_save_leaves_no_temporary_files(tmp_path):
    build().save(tmp_path / "s.npz")
    assert [p.name for p in tmp_path.iterdir()] == ["s.npz"]


def test_npz_that_needs_pickle_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, embeddings=np.ones((2, 2)), identity=np.array(["a", {"x": 1}], dtype=object))
    with pytest.raises(errors.FairauditInputError) as info:
        EmbeddingSet.load(path)
    assert str(info.value) == errors.NPZ_NEEDS_PICKLE.format(path=str(path))


def test_npz_without_embeddings_is_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, x=np.ones(3))
    with pytest.raises(errors.FairauditInputError) as info:
        EmbeddingSet.load(path)
    assert str(info.value) == errors.NPZ_MISSING_KEY.format(path=str(path), key="embeddings", keys=["x"])


def test_unknown_suffix_and_missing_file_are_refused(tmp_path):
    with pytest.raises(errors.FairauditInputError) as info:
        build().save(tmp_path / "set.pkl")
    assert "'.npz', '.parquet'" in str(info.value)
    with pytest.raises(errors.FairauditInputError) as info:
        EmbeddingSet.load(tmp_path / "nope.npz")
    assert "does not exist" in str(info.value)


def test_subset_keeps_labels_aligned():
    es = build()
    sub = es.subset([4, 5, 0, 1])
    assert list(sub.identity) == ["id2", "id2", "id0", "id0"]
    assert list(sub.column("ethnicity")) == ["C", "C", "A", "A"]
    np.testing.assert_array_equal(sub.embeddings[0], es.embeddings[4])


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_failures_are_kept_saved_and_give_the_failure_to_acquire_rate(tmp_path, suffix):
    failures = pd.DataFrame({"path": ["x.jpg", "y.jpg", "z.jpg"], "identity": ["id9", "id8", "id7"],
                             "reason": ["no face found"] * 3, "gender": ["F", "F", "M"],
                             "ethnicity": ["A", "A", "C"]})
    es = build(failures=failures)
    back = EmbeddingSet.load(es.save(tmp_path / f"s{suffix}"))
    pd.testing.assert_frame_equal(back.failures, failures)
    fta = back.failure_to_acquire("ethnicity")
    # A: 2 acquired + 2 failed; B: 2 + 0; C: 2 + 1
    assert fta.loc["A", "n_attempts"] == 4 and fta.loc["A", "fta"] == 0.5
    assert fta.loc["B", "fta"] == 0.0
    assert fta.loc["C", "fta"] == pytest.approx(1 / 3)
