"""Embedding diagnostics (fairaudit.diagnostics)."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from sklearn.decomposition import PCA

from fairaudit import EmbeddingSet, FairauditInputError, embedding_diagnostics, synthetic
from fairaudit.diagnostics import audit as diag


@pytest.fixture(scope="module")
def data():
    base = synthetic.population("diveface", n_identities=20, samples_per_identity=2, dim=32, random_state=4,
                                gender_strength=0.5, intra_spread=0.5)
    # an attribute the embeddings know nothing about: a coin flip per identity
    ids = np.unique(base.identity)
    coin = dict(zip(ids, np.random.default_rng(0).permutation(np.resize(["x", "y"], len(ids)))))
    attrs = base.attributes
    attrs["coin"] = [coin[i] for i in base.identity]
    return EmbeddingSet(base.embeddings, identity=base.identity, attributes=attrs)


@pytest.fixture(scope="module")
def result(data):
    return embedding_diagnostics(data, by=["gender", "ethnicity", "coin"], method="pca", random_state=0)


def test_probe_beats_chance_on_encoded_attributes_and_not_on_a_random_one(result):
    probe = result.probe.set_index("attribute")
    assert list(probe.index) == ["gender", "ethnicity", "coin", "gender & ethnicity & coin"]
    for name in ("gender", "ethnicity"):
        assert probe.loc[name, "accuracy_mean"] > probe.loc[name, "chance"] + 0.3, name
    assert probe.loc["coin", "chance"] == pytest.approx(0.5)
    assert abs(probe.loc["coin", "accuracy_mean"] - 0.5) < 0.15
    assert probe.loc["ethnicity", "n_classes"] == 3
    assert probe.loc["gender & ethnicity & coin", "n_classes"] == 12


def test_probe_chance_is_the_majority_class_share(data):
    keep = ~((data.column("ethnicity") == "N") & (np.arange(len(data)) % 2 == 0))
    sub = data.subset(keep)
    res = embedding_diagnostics(sub, by="ethnicity", method="pca")
    values, counts = np.unique(sub.column("ethnicity"), return_counts=True)
    assert res.probe.chance.item() == pytest.approx(counts.max() / counts.sum())
    assert res.probe.n_samples.item() == len(sub)
    assert res.probe.n_identities.item() == sub.n_identities


def test_probe_folds_never_split_an_identity(data, monkeypatch):
    from sklearn import model_selection

    seen = []
    original = model_selection.cross_val_score

    def spy(estimator, X, y, *, groups, cv, **kwargs):
        for train, test in cv.split(X, y, groups):
            seen.append(set(groups[train]) & set(groups[test]))
        return original(estimator, X, y, groups=groups, cv=cv, **kwargs)

    monkeypatch.setattr(model_selection, "cross_val_score", spy)
    embedding_diagnostics(data, by="gender", method="pca", cv=4)
    assert len(seen) == 4 and all(not shared for shared in seen)


def test_coords_carry_identity_every_attribute_and_the_intersection(result, data):
    coords = result.coords
    assert list(coords.columns) == ["index", "x", "y", "identity", "gender", "ethnicity", "coin",
                                    "gender & ethnicity & coin"]
    np.testing.assert_array_equal(coords["index"], np.arange(len(data)))
    np.testing.assert_array_equal(coords.identity, data.identity)
    assert coords["gender & ethnicity & coin"].iloc[0] == " & ".join(
        [coords.gender.iloc[0], coords.ethnicity.iloc[0], coords.coin.iloc[0]])


def test_pca_coordinates_equal_sklearn_pca(result, data):
    expected = PCA(n_components=2).fit_transform(data.normalized())
    for k, column in enumerate(("x", "y")):
        got = result.coords[column].to_numpy()
        sign = np.sign(got @ expected[:, k])
        np.testing.assert_allclose(sign * got, expected[:, k], atol=1e-4)


def test_tsne_is_seeded_and_separates_ethnicities(data):
    a = embedding_diagnostics(data, by="ethnicity", perplexity=10, probe=False, random_state=1)
    b = embedding_diagnostics(data, by="ethnicity", perplexity=10, probe=False, random_state=1)
    pd.testing.assert_frame_equal(a.coords, b.coords)
    assert a.probe.empty and a.params["method"] == "tsne"
    # each ethnicity forms its own cluster: nearest neighbours on the map share it
    xy = a.coords[["x", "y"]].to_numpy()
    labels = a.coords.ethnicity.to_numpy()
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert np.mean(labels[d.argmin(axis=1)] == labels) > 0.9


def test_stratified_subsample_keeps_every_group_in_proportion(data):
    res = embedding_diagnostics(data, by=["gender", "ethnicity"], method="pca", n_samples=60, probe=False)
    assert len(res.coords) == 60
    assert res.coords["gender & ethnicity"].value_counts().tolist() == [10] * 6
    assert res.coords["index"].is_unique
    assert any("subsample of 60 of 240" in note for note in res.notes)
    rows = diag.stratified_subsample(np.array(["a"] * 90 + ["b"] * 10), 20, np.random.default_rng(0))
    assert len(rows) == 20 and np.sum(rows >= 90) == 2


def test_json_round_trip(result):
    back = diag.DiagnosticsResult.from_dict(json.loads(result.to_json()))
    pd.testing.assert_frame_equal(back.coords, result.coords, check_dtype=False)
    pd.testing.assert_frame_equal(back.probe, result.probe, check_dtype=False)
    assert back.params == result.params and back.by == result.by


def test_plot_embedding_returns_the_axes_it_drew_on(result):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        out = diag.plot_embedding(result, "ethnicity", ax=ax)
        assert out is ax
        assert len(ax.collections) == 3
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["A", "B", "N"]
        own = result.plot("gender & ethnicity & coin")
        assert len(own.collections) == 12
        plt.close(own.figure)
    finally:
        plt.close(fig)


def test_plot_embedding_refuses_an_unknown_column(result):
    with pytest.raises(FairauditInputError) as info:
        diag.plot_embedding(result, "age")
    assert str(info.value) == diag.UNKNOWN_COLOR.format(value="age", available=result.color_columns)


@pytest.mark.parametrize("kwargs,template,fmt", [
    ({"method": "umap"}, diag.BAD_METHOD, {"value": "umap"}),
    ({"cv": 1}, diag.BAD_CV, {"value": 1}),
    ({"n_samples": 2}, diag.BAD_N_SAMPLES, {"value": 2, "minimum": 3}),
    ({"perplexity": 500}, diag.BAD_PERPLEXITY, {"value": 500, "n": 240, "suggest": 30}),
    ({"random_state": "x"}, diag.BAD_RANDOM_STATE, {"value": "x"}),
])
def test_bad_options_are_refused(data, kwargs, template, fmt):
    with pytest.raises(FairauditInputError) as info:
        embedding_diagnostics(data, by="ethnicity", **kwargs)
    assert str(info.value) == template.format(**fmt)


def test_probe_needs_as_many_identities_as_folds(data):
    few = data.subset(np.isin(data.identity, np.unique(data.identity)[:3]))
    with pytest.raises(FairauditInputError) as info:
        embedding_diagnostics(few, by="gender", method="pca", cv=5)
    assert str(info.value) == diag.PROBE_TOO_FEW_IDENTITIES.format(cv=5, n=3)


def test_data_must_be_an_embedding_set():
    with pytest.raises(FairauditInputError) as info:
        embedding_diagnostics([[1.0, 2.0]], by="gender")
    assert str(info.value) == diag.BAD_DATA.format(type="list")
