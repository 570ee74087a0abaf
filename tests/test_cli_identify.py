"""``fairaudit identify``: the 1:N audit on the command line, run in-process as tests/test_cli.py does.

Embeddings (seeded split, fixed roles from a CSV or from the labels of a .npy), candidate lists from a
NIST file, both threshold policies, the outputs, and bad options: one line naming the option and the
fix, exit code 2, and nothing computed when an output path cannot be written.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from fairaudit import synthetic
from fairaudit.cli import main
from fairaudit.identification import identification_audit

FAST = ["--n-boot", "0"]


@pytest.fixture(scope="module")
def pop(tmp_path_factory):
    es = synthetic.population("diveface", n_identities=15, samples_per_identity=4, dim=32, random_state=3)
    path = tmp_path_factory.mktemp("data") / "pop.npz"
    es.save(path)
    return es, path


def run(argv, capsys):
    """``main(argv)``: (exit code, stdout, stderr); argparse's usage errors end in SystemExit."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, needle):
    assert code == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("fairaudit: error:"), err
    assert needle in err and "Fix:" in err, err
    assert "Traceback" not in err


def by_group(path) -> pd.DataFrame:
    from fairaudit import IdentificationResult

    return IdentificationResult.from_json(path).by_group.reset_index(drop=True)


# --------------------------------------------------------------------------
# the embeddings route
# --------------------------------------------------------------------------
def test_embeddings_route_prints_the_summary_and_matches_the_api(pop, tmp_path, capsys):
    es, path = pop
    out = tmp_path / "r.json"
    code, text, err = run(["identify", path, "--by", "ethnicity", "--fpir", "0.05", "--n-boot", "50",
                           "--n-perm", "200", "--seed", "4", "--json", out], capsys)
    assert code == 0, err
    assert text.startswith("Identification (1:N) audit by ethnicity")
    assert "FNIR (R=1)" in text and "FPIR" in text and "fpir_max_min" in text
    assert f"JSON written to {out}" in text
    data = json.loads(out.read_text())
    assert data["kind"] == "identification"
    assert data["policy"]["kind"] == "fpir" and data["policy"]["value"] == 0.05
    assert data["protocol"]["kind"] == "split" and data["protocol"]["nonmated_share"] == 0.2
    api = identification_audit(es, by="ethnicity", threshold={"fpir": 0.05}, n_boot=50, n_perm=200,
                               random_state=4)
    assert data["threshold"] == api.threshold
    got = by_group(out)
    for column in ("label", "n_mated", "n_nonmated", "fnir", "fpir", "rank1", "fnir_ci_low", "fpir_ci_high"):
        assert got[column].tolist() == api.by_group[column].tolist(), column
    assert len(api.comparisons) and data["params"]["n_perm"] == 200


def test_default_threshold_is_fpir_1e2_and_intersections_repeat_by(pop, tmp_path, capsys):
    _, path = pop
    out = tmp_path / "r.json"
    code, text, err = run(["identify", path, "--by", "gender", "--by", "ethnicity", *FAST, "--json", out], capsys)
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["policy"] == {"kind": "fpir", "value": 0.01,
                              "description": "threshold where the pooled FPIR is at most 0.01"}
    assert data["by"] == ["gender", "ethnicity"] and "H & A" in text


def test_split_options_rank_and_k_reach_the_audit(pop, tmp_path, capsys):
    _, path = pop
    out = tmp_path / "r.json"
    code, _, err = run(["identify", path, "--by", "ethnicity", "--nonmated-share", "0.4", "--gallery-samples", "2",
                        "--rank", "3", "--k", "5", *FAST, "--json", out], capsys)
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["protocol"]["nonmated_share"] == 0.4 and data["protocol"]["samples"] == 2
    assert data["rank"] == 3 and data["k"] == 5
    assert data["params"]["n_gallery_samples"] == 2 * data["params"]["n_gallery_identities"]


def test_fixed_threshold(pop, tmp_path, capsys):
    es, path = pop
    out = tmp_path / "r.json"
    code, text, err = run(["identify", path, "--by", "ethnicity", "--threshold", "0.5", *FAST, "--json", out],
                          capsys)
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["threshold"] == 0.5 and data["policy"]["kind"] == "fixed"
    assert "Threshold 0.5 (fixed threshold 0.5)" in text
    api = identification_audit(es, by="ethnicity", threshold=0.5, n_boot=0)
    assert by_group(out)["fpir"].tolist() == api.by_group["fpir"].tolist()


def _roles(es):
    return synthetic.search_roles(es, nonmated_share=0.3, random_state=5)


def test_role_column_route(pop, tmp_path, capsys):
    es, path = pop
    roles = _roles(es)
    table = tmp_path / "roles.csv"
    pd.DataFrame({"identity": es.identity, "role": roles}).to_csv(table, index=False)
    out = tmp_path / "r.json"
    code, _, err = run(["identify", path, "--by", "ethnicity", "--roles", table, "--gallery-column", "role",
                        *FAST, "--json", out], capsys)
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["protocol"]["kind"] == "roles"
    assert data["protocol"]["n_gallery_samples"] == int((roles == "gallery").sum())
    api = identification_audit(es, by="ethnicity", gallery=roles, n_boot=0)
    got = by_group(out)
    for column in ("n_mated", "n_nonmated", "fnir", "fpir"):
        assert got[column].tolist() == api.by_group[column].tolist(), column


def test_role_column_of_the_labels_of_a_npy_is_not_an_attribute(pop, tmp_path, capsys):
    es, _ = pop
    npy = tmp_path / "emb.npy"
    np.save(npy, es.embeddings)
    labels = tmp_path / "labels.csv"
    pd.DataFrame({"identity": es.identity, "ethnicity": es.column("ethnicity"), "role": _roles(es)}).to_csv(
        labels, index=False)
    out = tmp_path / "r.json"
    # a per-sample role would be refused as an attribute (it changes within an identity)
    code, _, err = run(["identify", npy, "--labels", labels, "--gallery-column", "role", "--by", "ethnicity",
                        *FAST, "--json", out], capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["protocol"]["kind"] == "roles"
    code, _, err = run(["identify", npy, "--labels", labels, "--by", "role", *FAST], capsys)
    assert code == 2 and "changes between samples" in err


# --------------------------------------------------------------------------
# the candidate-list route
# --------------------------------------------------------------------------
def _nist_files(es, folder, k=5):
    """A NIST candidate-list file of the searches of ``es`` (top ``k`` per search), with its tables."""
    roles = _roles(es)
    x = es.normalized()
    gal, prb = np.flatnonzero(roles == "gallery"), np.flatnonzero(roles == "probe")
    scores = x[prb] @ x[gal].T
    rows = []
    for i, p in enumerate(prb):
        best = np.argsort(-scores[i], kind="stable")[:k]
        rows += [(f"s{p}", r + 1, es.identity[gal[j]], repr(float(scores[i, j]))) for r, j in enumerate(best)]
    lists = folder / "candidates.txt"
    pd.DataFrame(rows, columns=["search_id", "rank", "candidate", "score"]).to_csv(lists, index=False)
    searches = folder / "searches.csv"
    pd.DataFrame({"search_id": [f"s{p}" for p in prb], "identity": es.identity[prb],
                  "ethnicity": es.column("ethnicity")[prb]}).to_csv(searches, index=False)
    gallery = folder / "gallery.csv"
    pd.DataFrame({"identity": es.identity[gal], "ethnicity": es.column("ethnicity")[gal]}).drop_duplicates().to_csv(
        gallery, index=False)
    return lists, searches, gallery


def test_candidates_route(pop, tmp_path, capsys):
    es, _ = pop
    lists, searches, gallery = _nist_files(es, tmp_path)
    out = tmp_path / "r.json"
    code, text, err = run(["identify", "--candidates", lists, "--format", "nist", "--searches", searches,
                           "--gallery", gallery, "--by", "ethnicity", "--k", "5", "--threshold", "0.5", *FAST,
                           "--json", out], capsys)
    assert code == 0, err
    data = json.loads(out.read_text())
    assert data["protocol"]["kind"] == "candidate_lists" and data["params"]["route"] == "candidates"
    assert data["gallery_size"]["data"] == []  # candidate lists cannot answer FPIR against gallery size
    # the same searches from the embeddings: the same FPIR (the best candidate is always listed)
    api = identification_audit(es, by="ethnicity", gallery=_roles(es), threshold=0.5, k=5, n_boot=0)
    assert by_group(out)["n_false_positives"].tolist() == api.by_group["n_false_positives"].tolist()
    # the format is detected when --format is left out
    code, _, err = run(["identify", "--candidates", lists, "--searches", searches, "--gallery", gallery,
                        "--by", "ethnicity", "--k", "5", *FAST], capsys)
    assert code == 0, err


def test_candidates_route_reads_a_bob_score_file_with_an_attribute_table(pop, tmp_path, capsys):
    es, _ = pop
    roles = _roles(es)
    x = es.normalized()
    gal, prb = np.flatnonzero(roles == "gallery"), np.flatnonzero(roles == "probe")
    scores = x[prb] @ x[gal].T
    lists = tmp_path / "scores-dev.txt"
    with open(lists, "w") as fh:  # every comparison: claimed_id real_id probe_label score
        for i, p in enumerate(prb):
            fh.writelines(f"{es.identity[g]} {es.identity[p]} probe{p} {float(scores[i, j])!r}\n"
                          for j, g in enumerate(gal))
    people = tmp_path / "people.csv"
    es.attributes.assign(identity=es.identity).drop_duplicates().to_csv(people, index=False)
    out = tmp_path / "r.json"
    code, _, err = run(["identify", "--candidates", lists, "--format", "bob4", "--attributes", people,
                        "--by", "ethnicity", "--threshold", "0.5", *FAST, "--json", out], capsys)
    assert code == 0, err
    api = identification_audit(es, by="ethnicity", gallery=roles, threshold=0.5, n_boot=0)
    got = by_group(out)
    for column in ("n_mated", "n_nonmated", "n_false_negatives", "n_false_positives", "rank1"):
        assert got[column].tolist() == api.by_group[column].tolist(), column


# --------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------
def _report_knows_identification() -> bool:
    from fairaudit.reporting.entries import KINDS

    return "identification" in KINDS


def test_outputs_are_written(pop, tmp_path, capsys):
    _, path = pop
    out, plots = tmp_path / "out" / "r.json", tmp_path / "plots"
    code, text, err = run(["identify", path, "--by", "ethnicity", *FAST, "--json", out, "--plots", plots], capsys)
    assert code == 0, err
    assert out.is_file() and f"Plots written to {plots}" in text
    names = sorted(p.name for p in plots.iterdir())
    assert "identification_cmc.png" in names and "identification_det.png" in names, names
    assert all((plots / n).stat().st_size > 0 for n in names)


@pytest.mark.skipif(not _report_knows_identification(),
                    reason="the HTML report does not take an IdentificationResult yet")
def test_html_report_is_written(pop, tmp_path, capsys):
    _, path = pop
    html = tmp_path / "report.html"
    code, text, err = run(["identify", path, "--by", "ethnicity", *FAST, "--html", html], capsys)
    assert code == 0, err
    assert html.is_file() and f"Report written to {html}" in text
    assert "FPIR" in html.read_text(encoding="utf-8")


@pytest.mark.parametrize("option, target", [("--json", "file/r.json"), ("--html", "dir"), ("--plots", "file")])
def test_an_unwritable_output_is_refused_before_the_audit(pop, tmp_path, capsys, option, target):
    _, path = pop
    (tmp_path / "file").write_text("a file, not a directory")
    (tmp_path / "dir").mkdir()
    code, text, err = run(["identify", path, "--by", "ethnicity", *FAST, option, tmp_path / target], capsys)
    assert_one_line_error(code, err, f"{option}: cannot write")
    assert text == ""  # nothing was computed


# --------------------------------------------------------------------------
# bad options
# --------------------------------------------------------------------------
@pytest.mark.parametrize("argv, needle", [
    (["--by", "ethnicity"], "needs something to audit"),
    (["{pop}"], "the following arguments are required: --by"),
    (["{pop}", "--by", "ethnicity", "--candidates", "x.txt"], "not both"),
    (["{pop}", "--by", "ethnicity", "--format", "nist"], "--format applies to candidate lists"),
    (["{pop}", "--by", "ethnicity", "--searches", "s.csv", "--gallery", "g.csv"],
     "--searches and --gallery apply to candidate lists"),
    (["--candidates", "x.txt", "--by", "ethnicity", "--nonmated-share", "0.3"], "--nonmated-share applies to the"),
    (["--candidates", "x.txt", "--format", "nist", "--by", "ethnicity"], "--searches and --gallery are missing"),
    (["--candidates", "x.txt", "--by", "ethnicity"], "--candidates: file 'x.txt' does not exist"),
    (["{pop}", "--by", "ethnicity", "--gallery-column", "role", "--gallery-samples", "2"], "one protocol"),
    (["{pop}", "--by", "ethnicity", "--roles", "roles.csv"], "names no column"),
    (["{pop}", "--by", "ethnicity", "--gallery-column", "role"], "--roles CSV"),
    (["{pop}", "--by", "ethnicity", "--roles", "missing.csv", "--gallery-column", "role"],
     "--roles: file 'missing.csv' does not exist"),
    (["{pop}", "--by", "ethnicity", "--threshold", "3"], "--fpir 1e-2"),
    (["{pop}", "--by", "ethnicity", "--threshold", "0.3", "--fpir", "0.1"], "not allowed with argument"),
    (["{pop}", "--by", "ethnicity", "--fpir", "0"], "argument --fpir: 0 is not a number in (0, 1)"),
    (["{pop}", "--by", "ethnicity", "--fpir", "nan"], "argument --fpir: 'nan' is not a finite number"),
    (["{pop}", "--by", "ethnicity", "--nonmated-share", "1"], "argument --nonmated-share"),
    (["{pop}", "--by", "ethnicity", "--gallery-samples", "0"], "argument --gallery-samples: 0 is not an integer"),
    (["{pop}", "--by", "ethnicity", "--rank", "30"], "rank=30 must be an integer in [1, k]"),
    (["{pop}", "--by", "ethnicity", "--n-boot", "3"], "n_boot=3"),
    (["{pop}", "--by", "race", "--n-boot", "0"], "available attributes"),
    (["missing.npz", "--by", "ethnicity"], "does not exist"),
    (["{json}", "--by", "ethnicity"], "is not an EmbeddingSet"),
])
def test_bad_options_give_one_line_error_and_exit_code_2(pop, tmp_path, capsys, monkeypatch, argv, needle):
    _, path = pop
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.json").write_text("{}")
    argv = [str(a).replace("{pop}", str(path)).replace("{json}", str(tmp_path / "r.json")) for a in argv]
    code, text, err = run(["identify", *argv], capsys)
    assert_one_line_error(code, err, needle)
    assert "Identification (1:N) audit" not in text


def test_roles_that_do_not_match_the_data_are_refused(pop, tmp_path, capsys):
    es, path = pop
    roles = _roles(es)
    short = tmp_path / "short.csv"
    pd.DataFrame({"role": roles[:-1]}).to_csv(short, index=False)
    code, _, err = run(["identify", path, "--by", "ethnicity", "--roles", short, "--gallery-column", "role"], capsys)
    assert_one_line_error(code, err, f"has {len(es) - 1} row(s) and DATA has {len(es)} samples")
    shuffled = tmp_path / "shuffled.csv"
    pd.DataFrame({"identity": es.identity[::-1], "role": roles}).to_csv(shuffled, index=False)
    code, _, err = run(["identify", path, "--by", "ethnicity", "--roles", shuffled, "--gallery-column", "role"],
                       capsys)
    assert_one_line_error(code, err, "not in the order of DATA")
    code, _, err = run(["identify", path, "--by", "ethnicity", "--roles", shuffled, "--gallery-column", "part"],
                       capsys)
    assert_one_line_error(code, err, "--gallery-column 'part' is not a column of --roles")
    wrong = tmp_path / "wrong.csv"
    pd.DataFrame({"role": np.where(roles == "gallery", "enrolled", "probe")}).to_csv(wrong, index=False)
    code, _, err = run(["identify", path, "--by", "ethnicity", "--roles", wrong, "--gallery-column", "role"], capsys)
    assert_one_line_error(code, err, "'enrolled'")


def test_a_score_file_is_not_a_1n_input(tmp_path, capsys):
    scores = tmp_path / "s.csv"
    scores.write_text("score,identity_a,identity_b,eth_a,eth_b\n0.5,a,b,A,A\n0.9,a,a,A,A\n")
    code, _, err = run(["identify", scores, "--by", "eth"], capsys)
    assert_one_line_error(code, err, "--candidates FILE")


def test_as_a_subprocess_a_bad_option_ends_without_traceback(pop):
    _, path = pop
    proc = subprocess.run([sys.executable, "-m", "fairaudit.cli", "identify", str(path), "--by", "ethnicity",
                           "--threshold", "7"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("fairaudit: error: --threshold 7 is not a score threshold")
    assert "Traceback" not in proc.stderr
