"""The command line: readable output, JSON, and one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from fairaudit import synthetic
from fairaudit.cli import main


@pytest.fixture(scope="module")
def pop_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "pop.npz"
    synthetic.population("diveface", n_identities=25, samples_per_identity=4, dim=32, random_state=1).save(path)
    return path


def test_verify_prints_table_and_writes_json(pop_file, tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(["verify", str(pop_file), "--by", "ethnicity", "--fmr", "1e-2", "--n-boot", "0", "--json", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "Threshold" in text and "FNMR" in text and "fdr" in text
    data = json.loads(out.read_text())
    assert data["policy"]["kind"] == "fmr" and data["policy"]["value"] == 1e-2
    assert [row[0] for row in data["by_group"]["data"]] == ["A", "B", "N"]


def test_verify_accepts_intersections_and_fixed_threshold(pop_file, capsys):
    assert main(["verify", str(pop_file), "--by", "gender", "--by", "ethnicity", "--threshold", "0.4",
                 "--n-boot", "0"]) == 0
    assert "H & A" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["verify", "missing.npz", "--by", "ethnicity"], "does not exist"),
        (["verify", "{pop}", "--by", "race", "--n-boot", "0"], "available attributes"),
        (["verify", "{pop}", "--by", "ethnicity", "--fmr", "3"], "FMR target"),
        (["verify", "{pop}", "--by", "ethnicity", "--n-boot", "3"], "n_boot=3"),
        (["verify", "{pop}", "--by", "ethnicity", "--threshold", "0.3", "--eer"], "not allowed with"),
        (["verify", "{pop}", "--by", "ethnicity", "--threshold", "42"], "cosine similarities in [-1, 1]"),
    ],
)
def test_bad_input_gives_one_line_error_and_exit_code_2(pop_file, argv, needle):
    argv = [a.replace("{pop}", str(pop_file)) for a in argv]
    proc = subprocess.run([sys.executable, "-m", "fairaudit.cli", *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("fairaudit: error:")
    assert needle in proc.stderr
    assert "Fix:" in proc.stderr


def test_synth_writes_a_loadable_population(tmp_path, capsys):
    out = tmp_path / "p.npz"
    assert main(["synth", "--preset", "diveface", "--out", str(out), "--n-identities", "5", "--dim", "16"]) == 0
    from fairaudit import EmbeddingSet

    es = EmbeddingSet.load(out)
    assert len(es) == 6 * 5 * 5 and es.attribute_names == ["gender", "ethnicity"]


def test_demo_writes_json_summary_plots_and_a_report_covering_everything(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n-identities", "20", "--dim", "32", "--n-boot", "20",
                 "--seeds", "2"]) == 0
    text = capsys.readouterr().out
    assert (out / "verification_eer.json").exists()
    assert (out / "summary.txt").read_text().startswith("Verification audit")
    assert any((out / "plots").glob("*.png"))
    for part in ("per_group", "pooled", "six_class", "mixtures", "diagnostics"):
        assert (out / f"{part}.json").exists(), part
    assert json.loads((out / "identification.json").read_text())["kind"] == "identification"
    assert (out / "plots" / "identification_cmc.png").exists()
    assert "Identification (1:N) audit by gender x ethnicity" in text
    html = (out / "report.html").read_text(encoding="utf-8")
    assert json.loads((out / "compare_systems.json").read_text())["kind"] == "systems"
    assert (out / "plots" / "compare_systems_accuracy_fairness.png").exists()
    assert "Comparison of 2 systems by gender x ethnicity" in text
    assert json.loads((out / "covariates.json").read_text())["kind"] == "covariates"
    assert (out / "plots" / "covariates_quality_fnmr_curve.png").exists()
    assert "Covariate audit at threshold" in text and "Does the gap survive the covariates?" in text
    # 4 verification + identification + two systems + covariates + 4 classification + diagnostics
    assert html.count('<article class="result"') == 12
    assert html.index('id="verification"') < html.index('id="identification"') < html.index('id="classification"')
    assert text.strip().splitlines()[-1] == f"Report: {out / 'report.html'}"


def test_classify_prints_the_cross_table_and_writes_json(pop_file, tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["classify", str(pop_file), "--target", "gender", "--by", "ethnicity", "--seeds", "2",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["kind"] == "classification"


def test_classify_refuses_a_score_file(tmp_path):
    scores = tmp_path / "s.csv"
    scores.write_text("score,identity_a,identity_b,eth_a,eth_b\n0.5,a,b,A,A\n0.9,a,a,A,A\n")
    proc = subprocess.run([sys.executable, "-m", "fairaudit.cli", "classify", str(scores), "--target", "eth",
                           "--by", "eth"], capture_output=True, text=True)
    assert proc.returncode == 2 and "holds scores, not embeddings" in proc.stderr


def test_output_piped_into_a_closed_pipe_is_not_an_error():
    """``fairaudit plugins | head -0``: the reader is gone before the first write; no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "fairaudit.cli", "plugins"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # closed long before the interpreter has started and printed
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Traceback" not in err and "BrokenPipeError" not in err


FOUR_COL = "p1 p1 s0 0.9\np1 p2 s1 0.1\np2 p2 s2 0.8\np2 p3 s3 0.3\np3 p3 s4 0.7\n"


@pytest.mark.parametrize(
    "name, content, argv, needle, not_said",
    [
        ("missing.npz", None, ["--by", "g"], "DATA file", "DATA:"),
        ("empty.txt", "", ["--by", "g"], "is empty (0 bytes)", "pass format="),
        ("four.txt", FOUR_COL, ["--by", "gender"], "carries no attributes", "available attributes: []"),
        ("five.txt", "p1 p1 s0 0.9 extra\np1 p2 s1 0.1 extra\n", ["--by", "gender"],
         "found 5 whitespace-separated fields, expected 4", "is not a number"),
    ],
)
def test_score_file_messages_say_what_is_wrong_with_the_file(tmp_path, name, content, argv, needle, not_said):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    proc = subprocess.run([sys.executable, "-m", "fairaudit.cli", "verify", str(path), *argv],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert needle in proc.stderr and not_said not in proc.stderr and "Fix:" in proc.stderr


def test_threshold_outside_cosine_range_says_scores_are_cosines(pop_file, capsys):
    assert main(["verify", str(pop_file), "--by", "ethnicity", "--threshold", "42", "--n-boot", "0"]) == 2
    err = capsys.readouterr().err
    assert "cosine similarities in [-1, 1]" in err and "--threshold 0.35" in err
    assert "not a threshold policy" not in err and "{'fmr'" not in err


def test_verify_without_by_is_a_pooled_only_audit_and_reports(pop_file, tmp_path, capsys):
    out = tmp_path / "pooled.json"
    assert main(["verify", str(pop_file), "--n-boot", "0", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "pooled only" in text
    data = json.loads(out.read_text())
    assert data["by"] == [] and data["by_group"]["data"] == []
    html = tmp_path / "pooled.html"
    assert main(["report", str(out), "--out", str(html)]) == 0
    assert html.stat().st_size > 0 and "Traceback" not in html.read_text()


def test_verify_without_by_audits_a_score_file_that_has_no_attributes(tmp_path, capsys):
    path = tmp_path / "four.txt"
    path.write_text(FOUR_COL)
    assert main(["verify", str(path), "--n-boot", "0"]) == 0
    assert "pooled only" in capsys.readouterr().out
