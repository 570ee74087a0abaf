"""Codebooks (value labels) and metadata of an EmbeddingSet: checked, kept, saved, supplied by the
synthetic presets and carried from a loader's manifest through extract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fairaudit import EmbeddingSet, synthetic
from fairaudit.common.errors import FairauditInputError
from fairaudit.data import embedding_set as es_module

DIVEFACE = {"gender": {"H": "man", "M": "woman"}, "ethnicity": {"A": "Asian", "B": "White", "N": "Black"}}


def small(**kw):
    return EmbeddingSet(np.eye(4, 8) + 0.1, identity=["a", "a", "b", "b"],
                        attributes={"gender": ["H", "H", "M", "M"]}, **kw)


def test_value_labels_are_kept_as_strings_and_copied():
    es = small(value_labels={"gender": {"H": "man", "M": " woman "}})
    assert es.value_labels == {"gender": {"H": "man", "M": "woman"}}
    es.value_labels["gender"]["H"] = "changed"
    assert es.value_labels["gender"]["H"] == "man"
    assert small().value_labels == {} and small().metadata == {}


@pytest.mark.parametrize("bad, message", [
    (["gender"], es_module.VALUE_LABELS_NOT_MAPPING.format(got="list")),
    ({"age": {"1": "young"}}, es_module.VALUE_LABELS_UNKNOWN_ATTRIBUTE.format(name="age", available=["gender"])),
    ({"gender": "H=man"}, es_module.VALUE_LABELS_NOT_MAPPING.format(got="str for 'gender'")),
    ({"gender": {"H": ""}}, es_module.VALUE_LABEL_NOT_TEXT.format(name="gender", code="H", got="")),
    ({"gender": {"H": 3}}, es_module.VALUE_LABEL_NOT_TEXT.format(name="gender", code="H", got=3)),
])
def test_bad_value_labels_are_refused_with_the_fix(bad, message):
    with pytest.raises(FairauditInputError) as info:
        small(value_labels=bad)
    assert str(info.value) == message


def test_metadata_must_be_json():
    with pytest.raises(FairauditInputError) as info:
        small(metadata=[1])
    assert str(info.value) == es_module.METADATA_NOT_JSON.format(got="list")
    with pytest.raises(FairauditInputError, match="JSON-serialisable"):
        small(metadata={"x": object()})


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_codebook_and_metadata_round_trip_through_files_and_subset(tmp_path, suffix):
    es = synthetic.population("diveface", n_identities=4, samples_per_identity=2, dim=24, random_state=1)
    assert es.value_labels == DIVEFACE
    back = EmbeddingSet.load(es.save(tmp_path / f"pop{suffix}"))
    assert back.value_labels == DIVEFACE and back.metadata == es.metadata
    part = es.subset(np.arange(8))
    assert part.value_labels == DIVEFACE and part.metadata == es.metadata


def test_synthetic_population_carries_what_it_planted():
    es = synthetic.population("diveface", n_identities=3, samples_per_identity=2, dim=24, random_state=1)
    planted = es.metadata["planted"]
    table = synthetic.planted("diveface")
    assert planted["preset"] == "diveface" and planted["attributes"] == ["gender", "ethnicity"]
    assert planted["fnmr_order"] == table.sort_values("fnmr_rank")["group"].tolist()
    assert planted["fmr_order"] == table.sort_values("fmr_rank")["group"].tolist()
    # overridden parameters may change the ordering: none is claimed
    other = synthetic.population("diveface", n_identities=3, samples_per_identity=2, dim=24, random_state=1,
                                 intra_spread={"B": 0.99})
    assert other.metadata["planted"]["fnmr_order"] == [] and other.metadata["planted"]["overridden"]
    assert synthetic.population("balanced", n_identities=3, samples_per_identity=2, dim=24
                                ).metadata["planted"]["fnmr_order"] == []


def test_extract_carries_a_manifest_codebook_into_the_set(tmp_path):
    from PIL import Image

    from fairaudit.images import extract

    class Mean:
        name, dim = "mean", 3

        def detect_and_align(self, image):
            return image.reshape(-1, 3).mean(axis=0)

        def embed(self, chips):
            return np.array([np.asarray(c, dtype=np.float32) + 1 for c in chips])

    rng = np.random.default_rng(0)
    rows = []
    for i in range(4):
        path = tmp_path / f"{i}.png"
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)
        rows.append({"path": str(path), "identity": f"p{i // 2}", "gender": "HM"[i // 2]})
    manifest = pd.DataFrame(rows)
    manifest.attrs["value_labels"] = {"gender": {"H": "man", "M": "woman"}, "unused": {"x": "y"}}
    es = extract(manifest, extractor=Mean(), progress=False)
    assert es.value_labels == {"gender": {"H": "man", "M": "woman"}}


def test_score_set_carries_a_checked_codebook():
    from fairaudit import ScoreSet

    ss = ScoreSet.from_arrays([0.9, 0.2, 0.1], identity_a=["p1", "p1", "p2"], identity_b=["p1", "p2", "p3"],
                              attributes_a={"gender": ["H", "H", "M"]}, attributes_b={"gender": ["H", "M", "H"]})
    assert ss.value_labels == {}
    labelled = ss.with_value_labels({"gender": {"H": "man", "M": "woman"}})
    assert labelled.value_labels == {"gender": {"H": "man", "M": "woman"}} and ss.value_labels == {}
    assert len(labelled) == 3 and labelled.n_genuine == 1
    with pytest.raises(FairauditInputError) as info:
        ss.with_value_labels({"ethnicity": {"A": "Asian"}})
    assert str(info.value) == es_module.VALUE_LABELS_UNKNOWN_ATTRIBUTE.format(name="ethnicity",
                                                                            available=["gender"])
    table = ss.table.assign()
    assert ScoreSet(table, value_labels={"gender": {"M": "woman"}}).value_labels == {"gender": {"M": "woman"}}
