"""``verification_audit(..., by=None)``: a pooled-only audit."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import fairaudit
from fairaudit import synthetic
from fairaudit.verification.grid import DEFAULT_BIN_WIDTH as W


@pytest.fixture(scope="module")
def pop():
    return synthetic.population("diveface", n_identities=10, samples_per_identity=3, dim=16, random_state=3)


def test_pooled_only_audit_keeps_the_pooled_figures_of_a_grouped_audit(pop):
    pooled = fairaudit.verification_audit(pop, by=None, n_boot=0)
    grouped = fairaudit.verification_audit(pop, by="ethnicity", n_boot=0)
    assert pooled.by == () and pooled.params["by"] == []
    assert pooled.threshold == grouped.threshold
    assert pooled.overall.drop(["label", "d_prime"]).equals(grouped.overall.drop(["label", "d_prime"]))
    # d' takes the impostor moments from the histogram, whose bins may differ by one for a few float32
    # scores between the two tile layouts
    assert pooled.overall["d_prime"] == pytest.approx(grouped.overall["d_prime"], rel=1e-6)
    for name in ("by_group", "fairness", "comparisons"):
        table, full = getattr(pooled, name), getattr(grouped, name)
        assert len(table) == 0 and list(table.columns) == list(full.columns)
    assert pooled.cross_fmr.shape == (0, 0)
    assert set(pooled.curves["group"]) == {"all"} and set(pooled.histograms["group"]) == {"all"}
    assert not any("ethnicity" in note or "__fairaudit" in note for note in pooled.notes)


def test_pooled_only_audit_round_trips_through_json(pop, tmp_path):
    res = fairaudit.verification_audit(pop, by=None, n_boot=0)
    back = type(res).from_json(res.to_json(tmp_path / "r.json"))
    assert back.by == () and len(back.by_group) == 0
    assert back.overall["eer"] == res.overall["eer"]


def test_pooled_only_audit_of_scores_without_attributes_is_exact():
    rng = np.random.default_rng(0)
    gen = np.round(rng.normal(0.6, 0.15, 40) / W) * W
    imp = np.round(rng.normal(0.1, 0.15, 300) / W) * W
    ida = [f"g{k % 8}" for k in range(40)] + [f"a{k % 9}" for k in range(300)]
    idb = [f"g{k % 8}" for k in range(40)] + [f"b{k % 7}" for k in range(300)]
    ss = fairaudit.ScoreSet.from_arrays(np.r_[gen, imp], identity_a=ida, identity_b=idb)
    res = fairaudit.verification_audit(ss, by=None, threshold=0.35, n_boot=0)
    assert res.overall["fmr"] == (imp >= 0.35).mean() and res.overall["fnmr"] == (gen < 0.35).mean()
    labels = np.r_[np.ones(40), np.zeros(300)]
    assert res.overall["auc"] == pytest.approx(roc_auc_score(labels, np.r_[gen, imp]), abs=1e-12)
