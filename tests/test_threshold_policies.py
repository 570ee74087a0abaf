"""Threshold policies an auditor uses: an FMR target on a named reference group, and a threshold
chosen on a development set then applied to an evaluation set (bob's dev/eval practice). Checked
against brute force on every pair."""

from __future__ import annotations

import json

import numpy as np
import pytest

import fairaudit
from fairaudit.common.errors import FairauditInputError
from fairaudit.verification.grid import DEFAULT_BIN_WIDTH

BY = ["gender", "ethnicity"]


@pytest.fixture(scope="module")
def pop():
    return fairaudit.synthetic.population("diveface", n_identities=40, samples_per_identity=4, random_state=5)


def _pairs(es):
    """Every unordered pair of distinct samples: float64 scores, genuine flags, group labels."""
    x = es.embeddings.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    i, j = np.triu_indices(len(es), 1)
    score = np.einsum("ij,ij->i", x[i], x[j])
    label = np.array([" & ".join(v) for v in zip(*(es.column(b) for b in BY))])
    return score, es.identity[i] == es.identity[j], label[i], label[j]


def _fmr(score, genuine, la, lb, group, threshold):
    imp = ~genuine & (la == group) & (lb == group)
    return float((score[imp] >= threshold).mean())


def test_reference_group_threshold_is_the_lowest_meeting_the_target_on_that_group(pop):
    target = 1e-2
    r = fairaudit.verification_audit(pop, by=BY, threshold={"fmr": target, "group": "M & B"}, n_boot=0)
    score, genuine, la, lb = _pairs(pop)
    # brute force: the group's FMR at the threshold meets the target, one grid step lower it does not
    assert _fmr(score, genuine, la, lb, "M & B", r.threshold) <= target
    assert _fmr(score, genuine, la, lb, "M & B", r.threshold - DEFAULT_BIN_WIDTH) > target
    # every group is judged at that threshold, with the brute-force rates
    for label, row in r.by_group.set_index("label").iterrows():
        assert row["fmr"] == pytest.approx(_fmr(score, genuine, la, lb, label, r.threshold), abs=0)
        gen = genuine & (la == label) & (lb == label)
        assert row["fnmr"] == pytest.approx(float((score[gen] < r.threshold).mean()), abs=0)
    assert r.policy["group"] == "M & B"
    assert "reference group 'M & B'" in r.policy["description"]
    assert any("reference group 'M & B'" in n for n in r.notes)
    # the pooled policy picks another threshold: the reference group changes the answer
    pooled = fairaudit.verification_audit(pop, by=BY, threshold={"fmr": target}, n_boot=0)
    assert pooled.threshold != r.threshold


def test_reference_group_by_tuple_and_single_attribute_value(pop):
    a = fairaudit.verification_audit(pop, by=BY, threshold={"fmr": 1e-2, "group": ("H", "N")}, n_boot=0)
    b = fairaudit.verification_audit(pop, by=BY, threshold={"fmr": 1e-2, "group": "H & N"}, n_boot=0)
    assert a.threshold == b.threshold and a.policy == b.policy
    c = fairaudit.verification_audit(pop, by="ethnicity", threshold={"fmr": 1e-2, "group": "N"}, n_boot=0)
    assert c.policy["group"] == "N"


def test_reference_group_with_bootstrap_keeps_intervals_and_comparisons(pop):
    r = fairaudit.verification_audit(pop, by=BY, threshold={"fmr": 1e-2, "group": "H & A"}, n_boot=60,
                                     n_perm=60, random_state=1)
    assert r.by_group["fmr_ci_low"].notna().all()
    assert len(r.comparisons) > 0
    assert (r.by_group["fmr_ci_low"] <= r.by_group["fmr"]).all()


def test_dev_threshold_applied_to_eval_identities(pop, tmp_path):
    ids = np.unique(pop.identity)
    dev_ids = set(ids[::2])
    dev = pop.subset(np.isin(pop.identity, list(dev_ids)))
    ev = pop.subset(~np.isin(pop.identity, list(dev_ids)))
    r_dev = fairaudit.verification_audit(dev, by=BY, threshold="fmr=1e-2", n_boot=0)
    path = tmp_path / "dev.json"
    r_dev.to_json(path)
    for given in (r_dev, path, str(path)):
        r_ev = fairaudit.verification_audit(ev, by=BY, threshold=given, n_boot=0)
        assert r_ev.threshold == r_dev.threshold  # applied as it is, not re-chosen
        assert r_ev.policy["kind"] == "fixed"
        src = r_ev.policy["source"]
        assert src["from"] == "result" and src["threshold"] == r_dev.threshold
        assert src["policy"] == r_dev.policy["description"]
        assert (src["path"] is None) == (given is r_dev)
        assert "previous audit" in r_ev.policy["description"]
        assert any("chosen by a previous audit" in n for n in r_ev.notes)
    score, genuine, la, lb = _pairs(ev)
    for label, row in r_ev.by_group.set_index("label").iterrows():
        assert row["fmr"] == _fmr(score, genuine, la, lb, label, r_dev.threshold)
    # the source survives the JSON round trip of the evaluation result
    out = tmp_path / "eval.json"
    r_ev.to_json(out)
    back = fairaudit.VerificationResult.from_json(out)
    assert back.policy["source"]["threshold"] == r_dev.threshold
    assert json.loads(out.read_text())["policy"]["source"]["from"] == "result"


@pytest.mark.parametrize("threshold, words", [
    ({"fmr": 1e-3, "group": "X & Y"}, "is not a group of this audit"),
    ({"fmr": 1e-3, "group": ""}, "is not a group of this audit"),
    ({"fmr": 1e-3, "grp": "H & A"}, "has the key(s)"),
    ({"far": 1e-3}, "names FAR"),
    ("far=1e-3", "names FAR"),
    ("/no/such/dev.json", "no such file"),
    ({"fmr": 2.0, "group": "H & A"}, "must be a number in (0, 1)"),
])
def test_bad_policies_are_refused_clearly(pop, threshold, words):
    with pytest.raises(FairauditInputError) as err:
        fairaudit.verification_audit(pop, by=BY, threshold=threshold, n_boot=0)
    assert words in str(err.value)
    assert "Fix:" in str(err.value)


def test_a_result_of_another_kind_or_a_broken_file_is_refused(pop, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("{not json")
    with pytest.raises(FairauditInputError, match="is not a verification result"):
        fairaudit.verification_audit(pop, by=BY, threshold=bad, n_boot=0)
    roles = fairaudit.synthetic.search_roles(pop)
    ident = fairaudit.identification_audit(pop, by=BY, gallery=roles, n_boot=0, n_perm=0)
    with pytest.raises(FairauditInputError, match="identification result"):
        fairaudit.verification_audit(pop, by=BY, threshold=ident, n_boot=0)


def test_reference_group_without_impostor_pairs_is_refused():
    es = fairaudit.synthetic.population("diveface", n_identities={"H & A": 1}, samples_per_identity=3)
    with pytest.raises(FairauditInputError, match="has no impostor comparison"):
        fairaudit.verification_audit(es, by=BY, threshold={"fmr": 1e-2, "group": "H & A"}, n_boot=0)


def test_cli_reference_group_and_threshold_from(pop, tmp_path, capsys):
    from fairaudit.cli import main

    data = tmp_path / "pop.npz"
    pop.save(data)
    dev = tmp_path / "dev.json"
    assert main(["verify", str(data), "--by", "gender", "--by", "ethnicity", "--fmr", "1e-2",
                 "--reference-group", "M & B", "--n-boot", "0", "--json", str(dev)]) == 0
    out = capsys.readouterr().out
    assert "reference group 'M & B'" in out
    first = fairaudit.VerificationResult.from_json(dev)
    assert main(["verify", str(data), "--by", "gender", "--threshold-from", str(dev), "--n-boot", "0"]) == 0
    out = capsys.readouterr().out
    assert f"{first.threshold:.6g}" in out and "chosen by a previous audit" in out
    assert main(["verify", str(data), "--by", "gender", "--reference-group", "M", "--n-boot", "0"]) == 2
    assert "needs an FMR target" in capsys.readouterr().err
