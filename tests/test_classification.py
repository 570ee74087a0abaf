"""The classification audit (fairaudit.classification)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
)
from sklearn.metrics import accuracy_score, confusion_matrix, recall_score, roc_auc_score, roc_curve

import fairaudit
from fairaudit import FairauditInputError, classification_audit, errors, synthetic
from fairaudit.classification import audit as clf
from fairaudit.classification.splits import STRATUM_TOO_SMALL, CustomSplit


@pytest.fixture(scope="module")
def data():
    return synthetic.population("diveface", n_identities=16, samples_per_identity=2, dim=24, random_state=0)


@pytest.fixture(scope="module")
def result(data):
    return classification_audit(data, target="gender", by="ethnicity", n_seeds=2, progress=False)


@pytest.fixture(scope="module")
def six(data):
    return classification_audit(data, target=["gender", "ethnicity"], by="ethnicity", split="pooled",
                                n_seeds=2, progress=False)


def _planted_population(random_state):
    """Gender directions at 0, 70 and 140 degrees in A, B and N; nothing else differs."""
    return synthetic.population(
        "diveface", n_identities=30, samples_per_identity=2, dim=32, random_state=random_state,
        intra_spread=0.5, identity_similarity=0.3, gender_strength=0.5,
        gender_angle_deg={"A": 0.0, "B": 70.0, "N": 140.0})


# --- leakage ------------------------------------------------------------------------
@pytest.mark.parametrize("split", ["per-group", "pooled", "leave-one-group-out",
                                   "mixture:B=0.6,A=0.3,N=0.1"])
def test_no_identity_is_on_both_sides_for_any_strategy(data, split):
    res = classification_audit(data, target="gender", by="ethnicity", split=split, n_seeds=2,
                               progress=False)
    res.check_no_leakage(data)
    ids = data.identity
    for _, part in res.splits.groupby(["seed", "model"]):
        train = part.loc[part.role == "train", "index"]
        test = part.loc[part.role == "test", "index"]
        assert not set(ids[train]) & set(ids[test])


def test_every_model_of_a_seed_is_scored_on_the_same_test_set(result):
    for _, part in result.splits[result.splits.role == "test"].groupby("seed"):
        sets = {model: tuple(rows["index"]) for model, rows in part.groupby("model")}
        assert len(set(sets.values())) == 1
    assert result.splits[result.splits.role == "test"].groupby("seed")["index"].apply(tuple).nunique() == 2


def test_check_no_leakage_catches_a_tampered_split(result, data):
    splits = result.splits.copy()
    test_row = splits.loc[splits.role == "test", "index"].iloc[0]
    extra = pd.DataFrame({"seed": [result.seeds[0]], "model": [result.models[0]], "role": ["train"],
                          "index": [test_row]})
    tampered = pd.concat([splits, extra], ignore_index=True)
    bad = clf.ClassificationResult(**{**{f: getattr(result, f) for f in result.__dataclass_fields__},
                                      "splits": tampered})
    with pytest.raises(AssertionError, match="in both the training and the test set"):
        bad.check_no_leakage(data.identity)


def test_custom_split_with_a_shared_identity_is_refused_naming_it(data):
    ids = data.identity
    rows_a = np.flatnonzero(ids == ids[0])
    others = np.flatnonzero(ids != ids[0])
    split = CustomSplit(train={"m": np.r_[rows_a[:1], others[:40]]}, test=np.r_[rows_a[1:], others[40:80]])
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", split=split, progress=False)
    assert str(info.value) == fairaudit.classification.splits.LEAKAGE.format(
        split="custom", model="m", count=1, plural="y", identities=f"[{str(ids[0])!r}]")


def test_custom_split_uses_its_own_test_set(data):
    ids = data.identity
    uniq = np.unique(ids)
    test_ids = uniq[::3]
    test = np.flatnonzero(np.isin(ids, test_ids))
    train = np.flatnonzero(~np.isin(ids, test_ids))
    res = classification_audit(data, target="gender", by="ethnicity",
                               split=CustomSplit(train={"all": train}, test=test), n_seeds=2, progress=False)
    for seed in res.seeds:
        part = res.splits[(res.splits.seed == seed) & (res.splits.role == "test")]
        np.testing.assert_array_equal(np.sort(part["index"]), test)
    assert res.params["test_size"] is None


# --- numbers cross-checked against scikit-learn and fairlearn -------------------------
def test_cross_accuracy_equals_sklearn_on_the_predictions(result):
    pred = result.predictions
    for row in result.cross.itertuples():
        part = pred[pred.model == row.model]
        if row.test_group != "all":
            part = part[part.group == row.test_group]
        per_seed = [accuracy_score(p.y_true, p.y_pred) for _, p in part.groupby("seed")]
        assert row.accuracy_mean == pytest.approx(np.mean(per_seed))
        assert row.accuracy_std == pytest.approx(np.std(per_seed, ddof=1))
        assert row.n_seeds == 2
        assert row.n_test == len(part) / 2


def test_cross_table_is_the_wide_matrix_of_means(result):
    table = result.cross_table()
    assert list(table.index) == ["A", "B", "N"]
    assert list(table.columns) == ["A", "B", "N", "all"]
    assert table.loc["A", "N"] == result.cross.query("model == 'A' and test_group == 'N'").accuracy_mean.item()
    assert list(result.cross_table(include_all=False).columns) == ["A", "B", "N"]


def test_confidence_interval_is_a_student_t_interval_over_seeds():
    from scipy import stats

    values = [0.9, 0.95, 0.97]
    half = stats.t.ppf(0.975, 2) * np.std(values, ddof=1) / math.sqrt(3)
    low, high = clf.seed_interval(values, 0.95)
    assert low == pytest.approx(np.mean(values) - half)
    assert high == 1.0  # clipped
    many = np.linspace(0.5, 0.9, 40)
    assert clf.seed_interval(many, 0.9) == pytest.approx(tuple(np.quantile(many, [0.05, 0.95])))
    assert all(math.isnan(v) for v in clf.seed_interval([0.9], 0.95))


def test_by_group_metrics_equal_sklearn_on_the_predictions(result):
    pred = result.predictions
    pos = result.pos_label
    assert pos == "M"
    for row in result.by_group.itertuples():
        part = pred[(pred.seed == row.seed) & (pred.model == row.model)]
        if row.group != "all":
            part = part[part.group == row.group]
        yt, yp = (part.y_true == pos).to_numpy(), (part.y_pred == pos).to_numpy()
        assert row.n == len(part)
        assert row.accuracy == pytest.approx(accuracy_score(part.y_true, part.y_pred))
        assert row.recall_macro == pytest.approx(recall_score(part.y_true, part.y_pred, average="macro"))
        assert row.tpr == pytest.approx(yp[yt].mean())
        assert row.fpr == pytest.approx(yp[~yt].mean())
        assert row.selection_rate == pytest.approx(yp.mean())
        assert row.roc_auc == pytest.approx(roc_auc_score(yt, part[f"proba_{pos}"]))


def test_fairness_figures_equal_fairlearn_functions(result):
    pred = result.predictions
    functions = {
        "demographic_parity_difference": demographic_parity_difference,
        "demographic_parity_ratio": demographic_parity_ratio,
        "equalized_odds_difference": equalized_odds_difference,
        "equalized_odds_ratio": equalized_odds_ratio,
    }
    for (seed, model), part in pred.groupby(["seed", "model"]):
        yt = (part.y_true == "M").astype(int)
        yp = (part.y_pred == "M").astype(int)
        got = result.fairness_by_seed.query("seed == @seed and model == @model").set_index("metric")["value"]
        for name, fn in functions.items():
            expected = fn(yt, yp, sensitive_features=part.group)
            assert got[name] == pytest.approx(expected, nan_ok=True), name
        accs = [accuracy_score(p.y_true, p.y_pred) for _, p in part.groupby("group")]
        assert got["accuracy_difference"] == pytest.approx(max(accs) - min(accs))
        assert got["accuracy_ratio"] == pytest.approx(min(accs) / max(accs))


def test_fairness_summary_aggregates_the_seeds(result):
    for row in result.fairness.itertuples():
        values = result.fairness_by_seed.query("model == @row.model and metric == @row.metric")["value"]
        assert row.mean == pytest.approx(values.mean())
        assert row.n_seeds == values.notna().sum()


def test_roc_curves_equal_sklearn_roc_curve(result):
    pred = result.predictions
    for (seed, model, group), curve in result.roc.groupby(["seed", "model", "group"], sort=False):
        part = pred[(pred.seed == seed) & (pred.model == model)]
        if group != "all":
            part = part[part.group == group]
        fpr, tpr, thr = roc_curve(part.y_true == "M", part["proba_M"])
        np.testing.assert_allclose(curve.fpr, fpr)
        np.testing.assert_allclose(curve.tpr, tpr)
        np.testing.assert_allclose(curve.threshold, thr)
        assert curve.auc.iloc[0] == pytest.approx(roc_auc_score(part.y_true == "M", part["proba_M"]))
    assert set(result.roc.group) == {"A", "B", "N", "all"}


def test_confusion_counts_sum_the_predictions_over_seeds(result):
    pred = result.predictions
    for (model, group), table in result.confusion.groupby(["model", "group"]):
        part = pred[pred.model == model]
        if group != "all":
            part = part[part.group == group]
        expected = confusion_matrix(part.y_true, part.y_pred, labels=["H", "M"])
        got = table.pivot(index="true", columns="predicted", values="count").loc[["H", "M"], ["H", "M"]]
        np.testing.assert_array_equal(got.to_numpy(), expected)


def test_predictions_hold_one_row_per_seed_model_and_test_sample(result, data):
    pred = result.predictions
    n_test = result.splits.query("role == 'test'").groupby(["seed", "model"]).size()
    assert len(pred) == n_test.sum()
    assert list(pred.columns) == ["seed", "model", "index", "identity", "group", "y_true", "y_pred",
                                  "proba_H", "proba_M"]
    np.testing.assert_array_equal(pred.identity, data.identity[pred["index"]])
    np.testing.assert_array_equal(pred.y_true, data.column("gender")[pred["index"]])
    np.testing.assert_allclose(pred[["proba_H", "proba_M"]].sum(axis=1), 1.0)
    np.testing.assert_array_equal(pred.y_pred, np.where(pred.proba_M > pred.proba_H, "M", "H"))


def test_training_sets_are_class_balanced(result):
    for (_, model), part in result.training.groupby(["seed", "model"]):
        assert part.n_train.nunique() == 1
        assert set(part.group) == {model}


# --- reproducibility ------------------------------------------------------------------
def test_same_random_state_gives_identical_results(data, result):
    again = classification_audit(data, target="gender", by="ethnicity", n_seeds=2, progress=False)
    assert again.seeds == result.seeds
    for name in result._TABLES:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(result, name))


def test_seeds_are_spawned_from_random_state():
    root, seeds = clf.derive_seeds(0, 3)
    expected = [int(c.generate_state(1, dtype=np.uint32)[0]) for c in np.random.SeedSequence(0).spawn(3)]
    assert root == 0 and seeds == expected
    assert clf.derive_seeds(1, 3)[1] != seeds
    assert clf.derive_seeds(0, 2)[1] == seeds[:2]


def test_audits_with_the_same_random_state_share_their_test_sets(result, six):
    a = result.splits.query("role == 'test'").groupby("seed")["index"].apply(lambda s: tuple(sorted(set(s))))
    b = six.splits.query("role == 'test'").groupby("seed")["index"].apply(lambda s: tuple(sorted(set(s))))
    pd.testing.assert_series_equal(a, b)


# --- the planted oracle ---------------------------------------------------------------
def test_per_group_heads_win_on_their_own_group_and_pooled_is_never_worst():
    data = _planted_population(3)
    res = classification_audit(data, target="gender", by="ethnicity", split=["per-group", "pooled"],
                               n_seeds=3, random_state=3, progress=False)
    table = res.cross_table(include_all=False)
    per_group = table.loc[["A", "B", "N"]]
    for g in "ABN":
        assert per_group.loc[g, g] > per_group.loc[g].drop(g).max(), f"model {g} row"
        assert per_group.loc[g, g] > per_group[g].drop(g).max(), f"test group {g} column"
        assert table.loc["pooled", g] >= per_group[g].min()
    # the two groups furthest apart (A and N, 140 degrees) transfer worst
    assert per_group.loc["A", "N"] == per_group.loc["A"].min()
    assert per_group.loc["N", "A"] == per_group.loc["N"].min()


# --- multi-class targets ------------------------------------------------------------------
def test_six_class_target_combines_attribute_labels(six):
    assert six.classes == ("H & A", "H & B", "H & N", "M & A", "M & B", "M & N")
    assert six.pos_label is None
    assert [c for c in six.predictions.columns if c.startswith("proba_")] == [f"proba_{c}" for c in six.classes]
    for column in ("tpr", "fpr", "selection_rate", "roc_auc"):
        assert six.by_group[column].isna().all()
    assert six.by_group.accuracy.notna().all()
    assert six.roc.empty
    assert six.fairness.query("metric == 'demographic_parity_difference'")["mean"].isna().all()
    assert six.fairness.query("metric == 'accuracy_difference'")["mean"].notna().all()
    assert any("binary targets only" in note for note in six.notes)
    assert len(six.confusion) == 1 * 4 * 6 * 6


def test_multiclass_macro_recall_ignores_classes_absent_from_the_group(six):
    pred = six.predictions
    for row in six.by_group.query("group != 'all'").itertuples():
        part = pred[(pred.seed == row.seed) & (pred.model == row.model) & (pred.group == row.group)]
        labels = sorted(set(part.y_true))
        assert row.recall_macro == pytest.approx(
            recall_score(part.y_true, part.y_pred, labels=labels, average="macro", zero_division=0))


def test_model_trained_on_models_without_some_classes_gets_zero_probability(data):
    res = classification_audit(data, target=["gender", "ethnicity"], by="ethnicity", split="per-group",
                               n_seeds=1, progress=False)
    pred = res.predictions
    a = pred[pred.model == "A"]
    assert (a[["proba_H & B", "proba_H & N", "proba_M & B", "proba_M & N"]] == 0).all().all()
    assert set(a.y_pred) <= {"H & A", "M & A"}


# --- pos_label -------------------------------------------------------------------------
def test_pos_label_chooses_the_positive_class(data, result):
    flipped = classification_audit(data, target="gender", by="ethnicity", n_seeds=2, pos_label="H",
                                   progress=False)
    a = result.by_group.set_index(["seed", "model", "group"])
    b = flipped.by_group.set_index(["seed", "model", "group"])
    np.testing.assert_allclose(a.selection_rate + b.selection_rate, 1.0)
    np.testing.assert_allclose(a.tpr, 1.0 - b.fpr)


# --- predict ------------------------------------------------------------------------------
def test_predict_gives_every_models_probabilities_for_new_samples(result, data):
    new = data.embeddings[:3] * 5.0  # scale does not matter: rows are L2-normalised
    out = result.predict(new)
    assert list(out.columns) == ["sample", "seed", "model", "y_pred", "proba_H", "proba_M"]
    assert len(out) == 3 * len(result.models)
    assert set(out.seed) == {result.seeds[-1]}
    est, _ = result.fitted[(result.seeds[-1], "A")]
    np.testing.assert_allclose(out.query("model == 'A'")[["proba_H", "proba_M"]].to_numpy(),
                               est.predict_proba(data.normalized()[:3]), rtol=1e-5)
    first = result.predict(data.subset([0, 1, 2]), seed=result.seeds[0])
    assert set(first.seed) == {result.seeds[0]}


def test_predict_refuses_wrong_shapes_and_missing_models(result, data):
    with pytest.raises(FairauditInputError) as info:
        result.predict(np.ones((2, 5)))
    assert str(info.value) == clf.BAD_PREDICT_INPUT.format(d=data.n_features, shape=(2, 5))
    loaded = clf.ClassificationResult.from_dict(result.to_dict())
    with pytest.raises(FairauditInputError) as info:
        loaded.predict(data.embeddings[:2])
    assert str(info.value) == clf.NO_MODELS_KEPT.format(seed=result.seeds[-1], kept=[])


def test_keep_models_last_keeps_only_the_last_seed(data):
    res = classification_audit(data, target="gender", by="ethnicity", split="pooled", n_seeds=2,
                               keep_models="last", progress=False)
    assert set(res.fitted) == {(res.seeds[-1], "pooled")}


# --- serialisation and provenance ---------------------------------------------------------
def test_json_round_trip_preserves_every_table(result, tmp_path):
    path = tmp_path / "clf.json"
    text = result.to_json(path)
    assert path.read_text() == text
    raw = json.loads(text)  # strict JSON: NaN and inf became null
    assert "NaN" not in text and "Infinity" not in text
    back = clf.ClassificationResult.from_json(path)
    for name in result._TABLES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(result, name), check_dtype=False)
    assert back.seeds == result.seeds and back.models == result.models
    assert back.params == raw["params"]


def test_json_round_trip_of_a_multiclass_result(six):
    back = clf.ClassificationResult.from_dict(json.loads(six.to_json()))
    for name in six._TABLES:
        pd.testing.assert_frame_equal(getattr(back, name), getattr(six, name), check_dtype=False)


def test_parameters_seeds_and_versions_are_recorded(result):
    p = result.params
    assert p["target"] == ["gender"] and p["by"] == ["ethnicity"]
    assert p["split"] == {"name": "per-group"}
    assert p["head"] == "logistic"
    assert p["head_params"]["logisticregression__max_iter"] == 1000
    assert p["random_state"] == 0 and p["n_seeds"] == 2 and p["test_size"] == 0.33
    versions = result.provenance["versions"]
    for package in ("python", "numpy", "pandas", "scikit-learn", "fairlearn", "fairaudit"):
        assert versions[package]
    json.dumps(result.to_dict(), allow_nan=False)


def test_summary_shows_the_cross_table(result):
    text = result.summary()
    assert "model (rows) x test group (columns)" in text
    assert "demographic_parity_difference" in text


# --- bad inputs --------------------------------------------------------------------------
def test_data_must_be_an_embedding_set():
    with pytest.raises(FairauditInputError) as info:
        classification_audit(np.zeros((4, 2)), target="gender", by="ethnicity")
    assert str(info.value) == clf.BAD_DATA.format(type="ndarray")


def test_unknown_target_lists_the_attributes(data):
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="sex", by="ethnicity")
    assert str(info.value) == errors.UNKNOWN_ATTRIBUTE.format(
        name="target", value="sex", available=["gender", "ethnicity"])


def test_unknown_group_attribute_lists_the_attributes(data):
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="race")
    assert str(info.value) == errors.UNKNOWN_ATTRIBUTE.format(
        name="by", value="race", available=["gender", "ethnicity"])


def test_single_class_target_is_refused(data):
    subset = data.subset(data.column("gender") == "H")
    with pytest.raises(FairauditInputError) as info:
        classification_audit(subset, target="gender", by="ethnicity")
    assert str(info.value) == clf.SINGLE_CLASS.format(target="gender", value="H")


@pytest.mark.parametrize("bad", [0.0, 1.0, -1, "a third"])
def test_bad_test_size_is_refused(data, bad):
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", test_size=bad)
    assert str(info.value) == fairaudit.classification.splits.BAD_TEST_SIZE.format(value=bad)


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_n_seeds_below_one_is_refused(data, bad):
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", n_seeds=bad)
    assert str(info.value) == clf.BAD_N_SEEDS.format(value=bad)


def test_bad_ci_and_pos_label_are_refused(data):
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", ci=95)
    assert str(info.value) == errors.BAD_CI.format(value=95)
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", pos_label="F")
    assert str(info.value) == clf.BAD_POS_LABEL.format(value="F", target="gender", classes=["H", "M"])
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target=["gender", "ethnicity"], by="ethnicity", pos_label="H & A")
    assert str(info.value) == clf.POS_LABEL_MULTICLASS.format(value="H & A", target="gender & ethnicity", n=6)


def test_stratum_with_fewer_than_two_identities_is_refused(data):
    ids = data.identity
    ma = np.unique(ids[(data.column("gender") == "M") & (data.column("ethnicity") == "A")])
    keep = ~np.isin(ids, ma[1:])
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data.subset(keep), target="gender", by="ethnicity", progress=False)
    assert str(info.value) == STRATUM_TOO_SMALL.format(
        by="ethnicity", group="A", target_name="gender", target="M", n=1)


def test_mixture_the_pool_cannot_fill_is_refused(data):
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", split="mixture:B=0.6,A=0.3,N=0.1",
                             size=3000, progress=False)
    message = str(info.value)
    assert message.startswith("mixture 'mixture(B=0.6,A=0.3,N=0.1)' asks for 900 training rows of group 'B'")
    assert "but only 20 exist outside the test set" in message


def test_model_trained_on_one_class_is_refused(data):
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="ethnicity", by="ethnicity", split="per-group", progress=False)
    # stratum A has 32 identities: 11 held out, 21 x 2 samples train model A
    assert str(info.value) == clf.MODEL_ONE_CLASS.format(split="per-group", model="A", value="A", n=42)


def test_bad_random_state_is_refused(data):
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", random_state=-1)
    assert str(info.value) == clf.BAD_RANDOM_STATE.format(value=-1)


# --- the study protocol --------------------------------------------------------------------
def test_study_protocol_runs_every_task_on_shared_test_sets():
    data = synthetic.population("diveface", n_identities=12, samples_per_identity=1, dim=24, random_state=2)
    out = clf.run_study_protocol(data, n_seeds=2, random_state=1, diagnostics=True,
                                 diagnostics_per_group=8, progress=False)
    assert set(out) == {"per_group", "pooled", "six_class", "mixtures", "diagnostics", "mixture_size",
                        "timings"}
    assert out["per_group"].models == ("A", "B", "N")
    assert out["pooled"].models == ("pooled",)
    assert len(out["six_class"].classes) == 6
    assert out["mixtures"].models == ("B60-A30-N10", "N80-A20-B0")
    # 12 identities per stratum -> 4 held out, 8 per class left; N80 needs 0.4 * size <= 8 per class
    assert out["mixture_size"] == 20
    mix = out["mixtures"].training.groupby(["seed", "model"])["n_train"].sum()
    assert (mix == 20).all()
    n80 = out["mixtures"].training.query("model == 'N80-A20-B0'")
    assert "B" not in set(n80.group)
    tests = [out[k].splits.query("role == 'test'").groupby("seed")["index"].apply(lambda s: tuple(sorted(set(s))))
             for k in ("per_group", "pooled", "six_class", "mixtures")]
    for other in tests[1:]:
        pd.testing.assert_series_equal(tests[0], other)
    assert len(out["diagnostics"].coords) == 8 * 6
    for key in ("per_group", "pooled", "six_class", "mixtures"):
        out[key].check_no_leakage(data)


def test_split_with_indices_outside_the_data_is_refused(data):
    n = len(data)
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", progress=False,
                             split=CustomSplit(train={"m": [0, n + 5]}, test=[1, 2]))
    assert str(info.value) == fairaudit.classification.splits.BAD_INDICES.format(split="custom", model="m", n_max=n - 1,
                                                                  bad=[n + 5])
    with pytest.raises(FairauditInputError) as info:
        classification_audit(data, target="gender", by="ethnicity", progress=False,
                             split=CustomSplit(train={"m": [0, 1]}, test=[2, n]))
    assert str(info.value) == fairaudit.classification.splits.BAD_TEST_INDICES.format(split="custom", n_max=n - 1, bad=[n])


def test_thread_limit_follows_the_environment(monkeypatch):
    from fairaudit.common import threads

    monkeypatch.delenv(threads.ENV_VAR, raising=False)
    assert threads.thread_limit() == 1
    monkeypatch.setenv(threads.ENV_VAR, "0")
    assert threads.thread_limit() is None
    monkeypatch.setenv(threads.ENV_VAR, "3")
    assert threads.thread_limit() == 3
    monkeypatch.setenv(threads.ENV_VAR, "many")
    with pytest.raises(FairauditInputError) as info:
        threads.thread_limit()
    assert str(info.value) == threads.BAD_THREADS.format(env=threads.ENV_VAR, value="many")
