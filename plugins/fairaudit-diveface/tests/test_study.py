"""run_study: the original (leaky) protocol vs the corrected one, on a small synthetic population."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from fairaudit import FairauditInputError, synthetic
from fairaudit.classification.audit import derive_seeds
from fairaudit_diveface import leaky, study


@pytest.fixture(scope="module")
def population():
    # several samples per identity, as DiveFace has; the study keeps the first of each
    return synthetic.population("diveface", n_identities=60, samples_per_identity=(1, 5), dim=64,
                                random_state=0)


@pytest.fixture(scope="module")
def result(population, tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    return study.run_study(population, out=out, head="logistic", n_seeds=2, random_state=0,
                           subset_per_group=20)


def _rows(comparison, task, model):
    part = comparison[(comparison["task"] == task) & (comparison["model"] == model)]
    return part.set_index("test_group")


def test_the_comparison_puts_both_protocols_side_by_side(result):
    c = result.comparison
    assert list(c.columns) == list(study.COMPARISON_COLUMNS)
    models = {("2.2", m) for m in "ABN"} | {("2.4", "pooled"), ("2.5", "six-class")} | {
        ("2.6", name) for name, _ in leaky.STUDY_MIXTURES}
    assert set(zip(c["task"], c["model"])) == models
    assert len(c) == len(models) * 4  # test groups A, B, N and all
    assert c[["original_accuracy", "corrected_accuracy", "overlap_rows"]].notna().all().all()
    np.testing.assert_allclose(c["inflation"], c["original_accuracy"] - c["corrected_accuracy"])
    reported = _rows(c, "2.2", "A")
    assert reported.loc["B", "reported"] == pytest.approx(0.8464)
    assert _rows(c, "2.4", "pooled").loc["A", "reported_note"] == "> 99.5 %"


def test_the_leaky_pooled_head_scores_higher_on_test_rows_it_trained_on(result):
    pooled = _rows(result.comparison, "2.4", "pooled")
    # about two thirds of the study's per-ethnicity test rows were in the pooled training split
    for group in "ABN":
        assert 0.45 < pooled.loc[group, "overlap_rows"] < 0.85
    assert pooled.loc["all", "overlap_rows"] == pytest.approx(2 / 3, abs=0.08)
    assert pooled.loc["all", "original_accuracy"] >= pooled.loc["all", "corrected_accuracy"]
    # per-ethnicity heads were scored on rows they never saw, as in the study
    per_group = result.comparison[result.comparison["task"] == "2.2"]
    assert (per_group["overlap_rows"] == 0).all()
    text = result.summary()
    assert "original (LEAKY)" in text and "test rows seen in training" in text
    assert "LEAK: on average" in text


def test_overlap_and_leaky_accuracy_match_an_independent_recomputation(population, result):
    """Redo seed 1's pooled head by hand: sklearn's split and the default logistic head."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = study.first_per_identity(population)
    X = data.normalized()
    y = np.asarray(data.column("gender"))
    g = np.asarray(data.column("ethnicity"))
    seed = derive_seeds(0, 2)[1][0]
    rows = np.arange(len(data))
    tests = {e: train_test_split(rows[g == e], test_size=0.33, random_state=seed,
                                 stratify=y[g == e])[1] for e in "ABN"}
    pooled_train = train_test_split(rows, test_size=0.33, random_state=seed, stratify=y)[0]
    head = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[pooled_train], y[pooled_train])
    ov = result.overlap
    acc = result.original
    for e in "ABN":
        mine = ov[(ov["seed"] == seed) & (ov["model"] == "pooled") & (ov["test_group"] == e)].iloc[0]
        assert mine["overlap_rows"] == pytest.approx(np.isin(tests[e], pooled_train).mean())
        assert mine["n_test"] == len(tests[e])
        got = acc[(acc["seed"] == seed) & (acc["model"] == "pooled") & (acc["test_group"] == e)]["accuracy"]
        assert got.iloc[0] == pytest.approx((head.predict(X[tests[e]]) == y[tests[e]]).mean())


def test_the_corrected_protocol_never_scores_a_model_on_its_training_identities(population, result):
    data = study.first_per_identity(population)
    for res in result.corrected.values():
        res.check_no_leakage(data)


def test_the_study_s_mixture_slicing_is_reproduced():
    gender = np.array(["H", "M"] * 6)
    ethnicity = np.repeat(["A", "B", "N"], 4)
    rows, taken = leaky.mixture_rows(gender, ethnicity, {"B": 0.6, "A": 0.3, "N": 0.1}, 20)
    # asks int(0.6 * 20 / 2) = 6 of each B cell, which holds 2: silently capped
    assert taken == {"HA": 2, "MA": 2, "HB": 2, "MB": 2, "HN": 1, "MN": 1}
    assert rows.tolist() == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_tasks_one_are_reported(result):
    assert result.verification is not None
    assert result.verification.overall["n_genuine"] == 10 * 10  # 10 identities, C(5, 2) pairs each
    assert result.subset_counts["n"].tolist() == [20] * 6
    assert result.diagnostics is not None and len(result.diagnostics.coords) == 120
    assert result.photos is None


def test_files_are_written_and_json_round_trips(result):
    files = result.files
    for key in ("study", "comparison", "summary", "corrected_pooled", "task1.1", "task1.3"):
        assert files[key].exists(), key
    data = json.loads(files["study"].read_text())
    assert data["kind"] == "diveface-study"
    cols = data["comparison"]["columns"]
    back = pd.DataFrame(data["comparison"]["data"], columns=cols)
    assert len(back) == len(result.comparison)
    csv = pd.read_csv(files["comparison"])
    np.testing.assert_allclose(csv["overlap_rows"], result.comparison["overlap_rows"])
    assert (files["summary"].parent / "plots" / "task1.3_tsne_gender_ethnicity.png").exists()


def test_photo_scores_compare_every_pair_once():
    v = {"einstein_0": [1.0, 0.0, 0.0], "einstein_1": [0.8, 0.6, 0.0], "tesla": [0.0, 0.0, 2.0]}
    table = study.photo_scores(v)
    assert table[["photo_a", "photo_b"]].values.tolist() == [
        ["einstein_0", "einstein_1"], ["einstein_0", "tesla"], ["einstein_1", "tesla"]]
    np.testing.assert_allclose(table["score"], [0.8, 0.0, 0.0])
    assert table["same_person"].tolist() == [True, False, False]


def test_bad_input_is_refused(population):
    with pytest.raises(FairauditInputError, match="attributes 'gender' and 'ethnicity'"):
        study.run_study(population.embeddings)
    with pytest.raises(FairauditInputError) as exc:
        study.run_study(population, n_seeds=0)
    assert str(exc.value) == study.BAD_N_SEEDS.format(value=0)


def test_too_small_groups_fail_with_a_fix():
    tiny = synthetic.population("diveface", n_identities=1, samples_per_identity=1, dim=32, random_state=0)
    with pytest.raises(FairauditInputError, match="the original protocol's 67/33 split of ethnicity A "
                                                  r"\(2 rows\) failed: .* Fix: give every"):
        leaky.run_original_protocol(tiny, seeds=[0])
