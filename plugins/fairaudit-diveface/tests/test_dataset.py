"""The DiveFace loader on a folder of augmented copies of two real photos."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from conftest import GROUPS, make_diveface

from fairaudit import FairauditInputError
from fairaudit.images.datasets import load_dataset
from fairaudit_diveface import dataset


def test_loader_reads_every_group_with_gender_and_ethnicity(diveface_root):
    m = dataset.load_diveface(diveface_root, images_per_identity="all")
    assert list(m.columns) == ["path", "identity", "gender", "ethnicity"]
    assert len(m) == 6 * 4 * 3
    counts = m.groupby(["gender", "ethnicity"])["identity"].nunique()
    assert counts.to_dict() == {(g, e): 4 for g in "HM" for e in "ABN"}
    row = m[m["identity"] == "MB/5000"].iloc[0]
    assert (row["gender"], row["ethnicity"]) == ("M", "B")
    assert row["path"].endswith("MB4K_120/5000/5000_0.jpg")


def test_loader_through_fairaudit_load_dataset(diveface_root):
    m = load_dataset("diveface", diveface_root)
    assert len(m) == 24 and m["identity"].is_unique  # one image per identity by default
    assert all(p.endswith("_0.jpg") for p in m["path"])  # the first image in file-name order


def test_n_per_group_draws_identities_reproducibly(diveface_root):
    a = dataset.load_diveface(diveface_root, n_per_group=2, images_per_identity=1, random_state=3)
    b = dataset.load_diveface(diveface_root, n_per_group=2, images_per_identity=1, random_state=3)
    assert a.equals(b)
    assert a.groupby(["gender", "ethnicity"])["identity"].nunique().tolist() == [2] * 6
    assert a["identity"].is_unique
    c = dataset.load_diveface(diveface_root, n_per_group=2, images_per_identity="all", random_state=3)
    assert len(c) == 12 * 3
    with pytest.raises(FairauditInputError, match="fewer than n_per_group=5"):
        dataset.load_diveface(diveface_root, n_per_group=5)


def test_missing_group_folders_are_named(tmp_path):
    root = make_diveface(tmp_path / "partial", identities=1, images=1, groups=GROUPS[:4])
    with pytest.raises(FairauditInputError) as exc:
        dataset.load_diveface(root)
    assert str(exc.value) == dataset.GROUPS_MISSING.format(
        root=str(root), missing="MB4K_120, MN4K_120", found="HA4K_120, HB4K_120, HN4K_120, MA4K_120",
        groups=", ".join(GROUPS))
    with pytest.raises(FairauditInputError) as exc:
        dataset.load_diveface(tmp_path / "nowhere")
    assert str(exc.value) == dataset.ROOT_MISSING.format(root=str(tmp_path / "nowhere"),
                                                         groups=", ".join(GROUPS))


def test_a_group_without_images_is_refused(tmp_path, diveface_root):
    root = tmp_path / "copy"
    shutil.copytree(diveface_root, root)
    shutil.rmtree(root / "HN4K_120")
    (root / "HN4K_120" / "empty_person").mkdir(parents=True)
    with pytest.raises(FairauditInputError, match="HN4K_120' holds no identity folder with images"):
        dataset.load_diveface(root)


def test_bad_options_are_refused(diveface_root):
    with pytest.raises(FairauditInputError) as exc:
        dataset.load_diveface(diveface_root, n_per_group=0)
    assert str(exc.value) == dataset.BAD_N_PER_GROUP.format(value=0)
    with pytest.raises(FairauditInputError) as exc:
        dataset.load_diveface(diveface_root, images_per_identity="first")
    assert str(exc.value) == dataset.BAD_IMAGES_PER_IDENTITY.format(value="first")


def test_ten_people_spreads_over_the_groups(diveface_root, tmp_path):
    m = dataset.ten_people(diveface_root, n_identities=6, n_images=3)
    assert m["identity"].nunique() == 6 and len(m) == 18
    assert sorted((m["gender"] + m["ethnicity"]).unique()) == ["HA", "HB", "HN", "MA", "MB", "MN"]
    # the study's own layout: <root>/<identity>/<image>
    flat = tmp_path / "bbdd_10_personas"
    for ident in ("einstein", "tesla"):
        shutil.copytree(diveface_root / "HB4K_120" / "2000", flat / ident)
    people = dataset.ten_people(flat, n_images=3)
    assert sorted(people["identity"].unique()) == ["einstein", "tesla"]
    assert set(people["gender"]) == {"?"}


def test_extraction_end_to_end_with_the_tiny_model(diveface_root, tiny_h5, tmp_path):
    extraction = pytest.importorskip("fairaudit.images.extraction", reason="fairaudit.images.extraction not there yet")
    from fairaudit_diveface.embedder import VGGFace2ResNet50

    manifest = dataset.load_diveface(diveface_root)
    es = extraction.extract(manifest, extractor=VGGFace2ResNet50(tiny_h5, detect=False),
                            cache=tmp_path / "cache", batch_size=8)
    assert len(es) == 24 and es.n_features == 16
    assert sorted(es.attribute_names) == ["ethnicity", "gender"]
    np.testing.assert_allclose(np.linalg.norm(es.embeddings, axis=1), 1.0, rtol=1e-5)


def test_loader_supplies_diveface_codebook(diveface_root):
    expected = {"gender": {"H": "man", "M": "woman"}, "ethnicity": {"A": "Asian", "B": "White", "N": "Black"}}
    assert dataset.load_diveface(diveface_root).attrs["value_labels"] == expected
    drawn = dataset.load_diveface(diveface_root, n_per_group=2, images_per_identity=1, random_state=3)
    assert drawn.attrs["value_labels"] == expected
