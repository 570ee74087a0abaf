"""Mitigation what-ifs for attribute classifiers (fairaudit.classification.mitigation).

The per-group figures are recomputed here from the stored predictions with scikit-learn, the
disparities with fairlearn's own functions, the before model by refitting the head on the
development rows and the mitigators by refitting fairlearn on them. The reduction of a
disparity is checked on a population built to have a large one (``SKEWED``).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import synthetic
from fairaudit.classification import mitigation as mit
from fairaudit.classification.mitigation_result import (
    DISPARITY_METRICS,
    GROUP_METRICS,
    MitigationResult,
    plot_mitigation_disparity,
    plot_mitigation_groups,
)
from fairaudit.common.errors import FairauditInputError

DOCS = Path(__file__).resolve().parents[1] / "docs" / "guide" / "classification.md"

#: women ("M") are 25 % of the Asian, 75 % of the Black and 50 % of the White identities. A
#: gender classifier that is right most of the time therefore predicts "M" (the positive class)
#: at very different rates per ethnicity: a demographic parity difference near 0.5 by
#: construction, which a demographic-parity mitigator must shrink.
SKEWED = {"HA": 30, "MA": 10, "HB": 10, "MB": 30, "HN": 20, "MN": 20}


@pytest.fixture(scope="module")
def pop():
    return synthetic.population("diveface", n_identities=40, samples_per_identity=4)


@pytest.fixture(scope="module")
def skewed():
    return synthetic.population("diveface", n_identities=SKEWED, samples_per_identity=4, dim=64,
                                random_state=1)


@pytest.fixture(scope="module")
def to_result(pop):
    return fairaudit.mitigate_classifier(pop, target="gender", by="ethnicity", n_seeds=2, progress=False)


@pytest.fixture(scope="module")
def eg_result(pop):
    return fairaudit.mitigate_classifier(pop, target="gender", by="ethnicity", method="exponentiated-gradient",
                                         constraint="equalized_odds", n_seeds=2, progress=False)


def _rows(result, seed, role):
    s = result.splits
    return np.sort(s.loc[(s["seed"] == seed) & (s["role"] == role), "index"].to_numpy())


def _rates(part):
    from sklearn.metrics import accuracy_score, confusion_matrix

    tn, fp, fn, tp = confusion_matrix(part["y_true"], part["y_pred"], labels=[0, 1]).ravel()
    return {"n": len(part), "accuracy": accuracy_score(part["y_true"], part["y_pred"]),
            "selection_rate": float(np.mean(part["y_pred"] == 1)),
            "tpr": tp / (tp + fn), "fpr": fp / (fp + tn)}


# --- the figures, recomputed --------------------------------------------------
@pytest.mark.parametrize("which", ["to_result", "eg_result"])
def test_per_group_figures_match_sklearn_on_the_predictions(which, request, pop):
    result = request.getfixturevalue(which)
    truth = (np.asarray(pop.column("gender")).astype(str) == "M").astype(int)
    pred = result.predictions
    assert (pred["y_true"].to_numpy() == truth[pred["index"].to_numpy()]).all()
    checked = 0
    for (seed, model), part in pred.groupby(["seed", "model"]):
        assert np.array_equal(np.sort(part["index"].to_numpy()), _rows(result, seed, "test"))
        expected = {g: _rates(p) for g, p in part.groupby("group")}
        expected["all"] = _rates(part)
        got = result.by_group[(result.by_group["seed"] == seed) & (result.by_group["model"] == model)]
        assert sorted(got["group"]) == sorted(expected)
        for _, row in got.iterrows():
            want = expected[row["group"]]
            assert row["n"] == want["n"]
            for metric in GROUP_METRICS:
                assert row[metric] == pytest.approx(want[metric], abs=1e-12), (seed, model, row["group"], metric)
                checked += 1
    assert checked == 2 * 2 * 4 * len(GROUP_METRICS)


@pytest.mark.parametrize("which", ["to_result", "eg_result"])
def test_disparities_match_fairlearns_functions(which, request):
    from fairlearn.metrics import (
        demographic_parity_difference,
        demographic_parity_ratio,
        equalized_odds_difference,
        equalized_odds_ratio,
    )

    result = request.getfixturevalue(which)
    held = result.disparity_by_seed[result.disparity_by_seed["rows"] == "test"]
    for (seed, model), part in result.predictions.groupby(["seed", "model"]):
        yt, yp, g = part["y_true"], part["y_pred"], part["group"]
        per = {name: _rates(p) for name, p in part.groupby("group")}
        want = {
            "demographic_parity_difference": demographic_parity_difference(yt, yp, sensitive_features=g),
            "demographic_parity_ratio": demographic_parity_ratio(yt, yp, sensitive_features=g),
            "equalized_odds_difference": equalized_odds_difference(yt, yp, sensitive_features=g),
            "equalized_odds_ratio": equalized_odds_ratio(yt, yp, sensitive_features=g),
            "true_positive_rate_difference": np.ptp([r["tpr"] for r in per.values()]),
            "false_positive_rate_difference": np.ptp([r["fpr"] for r in per.values()]),
            "accuracy_difference": np.ptp([r["accuracy"] for r in per.values()]),
        }
        got = held[(held["seed"] == seed) & (held["model"] == model)].set_index("metric")["value"]
        assert set(got.index) == set(DISPARITY_METRICS)
        for metric, value in want.items():
            assert got[metric] == pytest.approx(value, abs=1e-12), (seed, model, metric)


def test_summary_tables_are_means_and_seed_intervals(to_result):
    from fairaudit.classification.metrics import seed_interval

    bg = to_result.by_group
    row = to_result.comparison.set_index(["group", "metric"]).loc[("B", "selection_rate")]
    for model in ("before", "after"):
        values = bg.loc[(bg["group"] == "B") & (bg["model"] == model), "selection_rate"].to_numpy()
        assert row[f"{model}_mean"] == pytest.approx(values.mean())
        assert (row[f"{model}_ci_low"], row[f"{model}_ci_high"]) == pytest.approx(seed_interval(values, 0.95))
    assert row["change"] == pytest.approx(row["after_mean"] - row["before_mean"])
    dp = to_result.disparity.set_index("metric")
    assert dp["targeted"].sum() == 1 and dp.loc["demographic_parity_difference", "targeted"]
    wide = to_result.before_after("accuracy")
    assert list(wide.index) == ["A", "B", "N", "all"] and list(wide.columns) == ["before", "after", "change"]


def test_before_model_is_the_head_fitted_on_the_development_rows(to_result, pop):
    from fairaudit.classification.heads import make_logistic

    X = pop.normalized().astype(np.float64)
    y = (np.asarray(pop.column("gender")).astype(str) == "M").astype(int)
    seed = to_result.seeds[0]
    dev, test = _rows(to_result, seed, "dev"), _rows(to_result, seed, "test")
    mine = make_logistic().fit(X[dev], y[dev]).predict(X[test])
    pred = to_result.predictions
    theirs = pred[(pred["seed"] == seed) & (pred["model"] == "before")].sort_values("index")["y_pred"]
    assert np.array_equal(mine, theirs.to_numpy())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fairlearn's own use of pandas, called directly here
def test_mitigators_are_fairlearns_fitted_on_the_development_rows(to_result, eg_result, pop):
    from fairlearn.postprocessing import ThresholdOptimizer
    from fairlearn.reductions import EqualizedOdds, ExponentiatedGradient

    from fairaudit.classification.heads import make_logistic

    X = pop.normalized().astype(np.float64)
    y = (np.asarray(pop.column("gender")).astype(str) == "M").astype(int)
    g = np.asarray(pop.column("ethnicity")).astype(str)
    seed = to_result.seeds[1]
    dev = _rows(to_result, seed, "dev")
    to = ThresholdOptimizer(estimator=make_logistic(), constraints="demographic_parity",
                            predict_method="predict_proba").fit(X[dev], y[dev], sensitive_features=g[dev])
    rules = to_result.rules[to_result.rules["seed"] == seed].set_index("group")
    for group, rule in to.interpolated_thresholder_.interpolation_dict.items():
        assert rules.loc[group, "threshold0"] == pytest.approx(rule["operation0"].threshold)
        assert rules.loc[group, "threshold1"] == pytest.approx(rule["operation1"].threshold)
        assert rules.loc[group, "p0"] == pytest.approx(rule["p0"])
    seed = eg_result.seeds[0]
    dev = _rows(eg_result, seed, "dev")
    eg = ExponentiatedGradient(make_logistic(), EqualizedOdds(),
                               sample_weight_name="logisticregression__sample_weight")
    eg.fit(X[dev], y[dev], sensitive_features=g[dev])
    weights = eg.weights_[eg.weights_ > 0]
    got = eg_result.rules[eg_result.rules["seed"] == seed].set_index("predictor")["weight"]
    assert sorted(got.index) == sorted(int(k) for k in weights.index)
    assert got.sort_index().to_numpy() == pytest.approx(weights.sort_index().to_numpy())


# --- identities -----------------------------------------------------------------
def test_test_identities_never_train(to_result, pop):
    ids = np.asarray(pop.identity).astype(str)
    for seed in to_result.seeds:
        dev, test = _rows(to_result, seed, "dev"), _rows(to_result, seed, "test")
        assert not set(ids[dev]) & set(ids[test])
        assert np.array_equal(np.sort(np.concatenate([dev, test])), np.arange(len(pop)))
        assert 0.3 < len(set(ids[test])) / len(set(ids)) < 0.4
    to_result.check_no_leakage(pop)
    leaky = to_result.splits.copy()
    first_test = leaky.index[leaky["role"] == "test"][0]
    leaky.loc[first_test, "role"] = "dev"
    broken = dataclasses.replace(to_result, splits=leaky)
    with pytest.raises(AssertionError, match="identities are development and held-out"):
        broken.check_no_leakage(pop)


def test_held_out_identities_are_those_of_the_classification_audit(to_result, pop):
    audit = fairaudit.classification_audit(pop, target="gender", by="ethnicity", split="pooled",
                                           n_seeds=2, keep_models="none", progress=False)
    assert tuple(audit.seeds) == tuple(to_result.seeds)
    for seed in to_result.seeds:
        s = audit.splits
        audit_test = np.unique(s.loc[(s["seed"] == seed) & (s["role"] == "test"), "index"])
        assert np.array_equal(audit_test, _rows(to_result, seed, "test"))


# --- the mitigators work ---------------------------------------------------------
@pytest.mark.parametrize("method", ["threshold-optimizer", "exponentiated-gradient"])
def test_mitigator_reduces_a_planted_demographic_parity_gap(method, skewed):
    result = fairaudit.mitigate_classifier(skewed, target="gender", by="ethnicity", method=method,
                                           constraint="demographic_parity", n_seeds=2, progress=False)
    dp = result.disparity_by_seed
    dp = dp[(dp["rows"] == "test") & (dp["metric"] == "demographic_parity_difference")]
    for seed in result.seeds:
        before = dp.loc[(dp["seed"] == seed) & (dp["model"] == "before"), "value"].item()
        after = dp.loc[(dp["seed"] == seed) & (dp["model"] == "after"), "value"].item()
        assert before > 0.4, before        # the planted gap is there ...
        assert after < before - 0.25, (before, after)  # ... and the mitigator closes most of it
    summary = result.disparity.set_index("metric").loc["demographic_parity_difference"]
    assert summary["targeted"] and summary["change"] < -0.25
    assert not any("did not reduce" in n for n in result.notes)
    sel = result.before_after("selection_rate").drop(index="all")
    assert np.ptp(sel["after"]) < np.ptp(sel["before"]) - 0.25


def test_deployment_notes_say_what_each_method_implies(to_result, eg_result):
    to_note = to_result.notes[0]
    assert "group label (ethnicity) at decision time" in to_note and "disparate treatment" in to_note
    eg_note = eg_result.notes[0]
    assert "randomised classifier" in eg_note and "does not read the group label" in eg_note
    assert "trained with it" in eg_note
    for result in (to_result, eg_result):
        assert any("never changes the audited model" in n for n in result.notes)
        assert result.params["mitigator"] in result.summary()


def test_determinism_same_random_state_same_numbers(pop, to_result):
    again = fairaudit.mitigate_classifier(pop, target="gender", by="ethnicity", n_seeds=2, progress=False)
    for name in MitigationResult._TABLES:
        pd.testing.assert_frame_equal(getattr(again, name), getattr(to_result, name))
    other = fairaudit.mitigate_classifier(pop, target="gender", by="ethnicity", n_seeds=1, random_state=7,
                                          progress=False)
    assert other.seeds != to_result.seeds
    assert not np.array_equal(_rows(other, other.seeds[0], "test"), _rows(to_result, to_result.seeds[0], "test"))


def test_json_round_trip(to_result, eg_result, tmp_path):
    for result in (to_result, eg_result):
        text = result.to_json()
        json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
        back = MitigationResult.from_json(text)
        for name in MitigationResult._TABLES:
            pd.testing.assert_frame_equal(getattr(back, name), getattr(result, name), check_dtype=True)
        assert back.params == result.params and back.notes == result.notes
        assert (back.seeds, back.groups, back.method, back.constraint) == (
            result.seeds, result.groups, result.method, result.constraint)
        assert back.summary() == result.summary()
    path = tmp_path / "what_if.json"
    to_result.to_json(path)
    assert MitigationResult.from_json(path).method == "threshold-optimizer"
    with pytest.raises(FairauditInputError, match="kind="):
        MitigationResult.from_json('{"kind": "classification"}')
    with pytest.raises(FairauditInputError, match="kept out of the audit's HTML report"):
        to_result.to_html(tmp_path / "r.html")


# --- plots ------------------------------------------------------------------------
def test_plots_bars_intervals_and_literal_dollar_labels(pop):
    eth = np.asarray(pop.column("ethnicity")).astype(str)
    odd = np.select([eth == "A", eth == "B"], ["cost $5", r"$\undefinedmacro{x}$"], "N")
    data = fairaudit.EmbeddingSet(pop.embeddings, identity=pop.identity,
                                  attributes={"gender": pop.column("gender"), "origin": odd})
    result = fairaudit.mitigate_classifier(data, target="gender", by="origin", n_seeds=2, progress=False)
    ax = plot_mitigation_groups(result, "selection_rate")
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [g.replace("$", r"\$") for g in result.groups] + ["all"]
    table = result.comparison[result.comparison["metric"] == "selection_rate"]
    for model in ("before", "after"):
        heights = [p.get_height() for p in ax.patches if p.get_gid() == model]
        assert heights == pytest.approx(table[f"{model}_mean"].tolist())
    from matplotlib.container import BarContainer

    bars = [c for c in ax.containers if isinstance(c, BarContainer)]
    assert len(bars) == 2 * len(table) and all(c.errorbar is not None for c in bars)
    b = table.iloc[0]  # the first group's before bar: its error bar spans the interval over seeds
    (_, low), (_, high) = bars[0].errorbar.lines[2][0].get_segments()[0]
    assert (low, high) == pytest.approx((b["before_ci_low"], b["before_ci_high"]))
    ax.figure.savefig(io.BytesIO(), format="png")  # mathtext would fail on \undefinedmacro
    ax = plot_mitigation_disparity(result)
    assert [t.get_text() for t in ax.get_yticklabels()] == [
        "demographic parity difference *", "equalized odds difference"]
    ax.figure.savefig(io.BytesIO(), format="png")
    with pytest.raises(FairauditInputError, match="metric='auc'"):
        plot_mitigation_groups(result, "auc")
    with pytest.raises(FairauditInputError, match="metrics='gap'"):
        plot_mitigation_disparity(result, ["gap"])
    with pytest.raises(FairauditInputError, match="ax must be a matplotlib Axes"):
        plot_mitigation_groups(result, ax="axes")


# --- hostile inputs -----------------------------------------------------------------
def _refuse(data, match, **kw):
    args = {"target": "gender", "by": "ethnicity", "n_seeds": 1, "progress": False, **kw}
    with pytest.raises(FairauditInputError, match=match) as info:
        fairaudit.mitigate_classifier(data, **args)
    assert "Fix:" in str(info.value)
    assert not [e for e in info.traceback if "fairlearn" in str(e.path)], "raised from inside fairlearn"
    return str(info.value)


def test_unknown_method_and_bad_constraints(pop):
    _refuse(pop, re.escape("method='grid-search' is not a mitigation method"), method="grid-search")
    msg = _refuse(pop, "constraint='error_rate_parity'", constraint="error_rate_parity")
    assert "true_negative_rate_parity" in msg  # lists what ThresholdOptimizer supports
    _refuse(pop, "constraint='true_negative_rate_parity'", method="exponentiated-gradient",
            constraint="true_negative_rate_parity")
    _refuse(pop, "constraint=", constraint=None)
    _refuse(pop, "mitigator_params: 'eps' is not a parameter of ThresholdOptimizer",
            mitigator_params={"eps": 0.1})
    _refuse(pop, re.escape("eps=0 for ExponentiatedGradient must be a number > 0"),
            method="exponentiated-gradient", mitigator_params={"eps": 0})
    _refuse(pop, "tol=0.1 relaxes a constraint", constraint="equalized_odds", mitigator_params={"tol": 0.1})
    _refuse(pop, "objective='selection_rate' cannot be used", constraint="equalized_odds",
            mitigator_params={"objective": "selection_rate"})
    _refuse(pop, "mitigator_params=", mitigator_params=[("eps", 1)])


def test_bad_scalars_and_heads(pop):
    from sklearn.neighbors import KNeighborsClassifier

    _refuse(pop, "n_seeds=0", n_seeds=0)
    _refuse(pop, "test_size=1", test_size=1)
    _refuse(pop, "ci=1.5", ci=1.5)
    _refuse(pop, "random_state=-1", random_state=-1)
    _refuse(pop, "head='forest'", head="forest")
    _refuse(pop, "pos_label='X' is not a class", pos_label="X")
    for head in (KNeighborsClassifier(), "mlp"):
        _refuse(pop, "its fit takes no sample_weight", head=head, method="exponentiated-gradient")
    with pytest.raises(FairauditInputError, match="data must be a fairaudit.EmbeddingSet"):
        fairaudit.mitigate_classifier(pop.embeddings, target="gender", by="ethnicity")


def _with(pop, **attributes):
    base = {"gender": pop.column("gender"), "ethnicity": pop.column("ethnicity")}
    return fairaudit.EmbeddingSet(pop.embeddings, identity=pop.identity, attributes={**base, **attributes})


def test_one_group_only_and_groups_that_cannot_be_split(pop):
    _refuse(_with(pop, site=np.full(len(pop), "lab")), "single group 'lab'", by="site")
    ids = np.asarray(pop.identity).astype(str)
    gender = np.asarray(pop.column("gender")).astype(str)
    # one person in group "X": a single class, and the group would be missing from one side
    site = np.where(ids == ids[0], "X", "Y")
    _refuse(_with(pop, site=site), "group 'X' of by='site' has only samples of class", by="site")
    # one woman and one man in "X": each stratum of X has one identity, which cannot be on both sides
    woman = ids[np.flatnonzero(gender == "M")[0]]
    man = ids[np.flatnonzero(gender == "H")[0]]
    site = np.where(np.isin(ids, [woman, man]), "X", "Y")
    msg = _refuse(_with(pop, site=site), "at least 2 identities in every group x target stratum", by="site")
    assert "'X'" in msg
    # by that determines the target (gender x ethnicity groups hold one gender each)
    _refuse(pop, "has only samples of class", by=["gender", "ethnicity"])


def test_groups_named_like_labels_the_library_and_fairlearn_use(pop):
    eth = np.asarray(pop.column("ethnicity")).astype(str)
    names = np.select([eth == "A", eth == "B"], ["all", "before"], "after")
    data = _with(pop, label=names)  # ThresholdOptimizer reserves the column names "label" and "score"
    result = fairaudit.mitigate_classifier(data, target="gender", by="label", n_seeds=1, progress=False)
    assert result.groups == ('"after"', '"all"', '"before"')  # quoted apart from the pooled "all"
    bg = result.by_group
    assert sorted(bg["group"].unique()) == sorted([*result.groups, "all"])
    pred = result.predictions[result.predictions["model"] == "after"]
    pooled = bg[(bg["group"] == "all") & (bg["model"] == "after")]
    assert pooled["n"].item() == len(pred)
    quoted_all = bg[(bg["group"] == '"all"') & (bg["model"] == "after")]
    assert quoted_all["selection_rate"].item() == pytest.approx(
        pred.loc[pred["group"] == '"all"', "y_pred"].mean())
    assert set(result.rules["group"]) == set(result.groups)


def test_multiclass_target_needs_pos_label_and_is_one_vs_rest(pop):
    msg = _refuse(pop, "has 3 classes", target="ethnicity", by="gender")
    assert "pos_label" in msg and "one-vs-rest" in msg
    result = fairaudit.mitigate_classifier(pop, target="ethnicity", by="gender", pos_label="A", n_seeds=1,
                                           progress=False)
    assert result.pos_label == "A" and result.params["negative_label"] == "not A"
    pred = result.predictions
    assert np.array_equal(pred["y_true"].to_numpy(), (pred["target"] == "A").astype(int).to_numpy())
    assert set(pred["target"]) == {"A", "B", "N"}
    assert any("binarised one-vs-rest" in n for n in result.notes)
    assert np.isfinite(result.disparity["before_mean"]).all()


# --- documentation --------------------------------------------------------------------
def test_the_guides_snippet_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the snippet writes what_if.json
    text = DOCS.read_text(encoding="utf-8")
    section = text[text.index("## Mitigation what-ifs"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    what_if = namespace["what_if"]
    assert isinstance(what_if, MitigationResult)
    assert what_if.disparity.set_index("metric").loc["demographic_parity_difference", "change"] < -0.2
    assert MitigationResult.from_json(tmp_path / "what_if.json").seeds == what_if.seeds
