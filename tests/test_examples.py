"""Every script under examples/ runs to completion on its small built-in data, and finds what it plants."""

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
#: optional packages an example needs beyond fairaudit's own dependencies
REQUIRES = {"custom_extractor_plugin.py": ("cv2", "skimage"),
            "compare_systems.py": ("cv2", "dlib", "skimage", "fairaudit_pixels")}


def _table(stdout: str, heading: str) -> dict[str, list[str]]:
    """The rows of the table printed under the line starting with ``heading``: row label -> cells.

    Row labels may contain single spaces ("N at 10%"); cells are separated by two or more spaces.
    """
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading)) + 1
    rows = {}
    for line in lines[start:]:
        if not line.strip():
            break
        label, *cells = re.split(r"\s{2,}", line.strip())
        rows[label] = cells
    return rows


def _check_verify_own_embeddings(out: Path, stdout: str) -> None:
    assert (out / "audit.json").is_file() and (out / "verification_det.png").is_file()


def _check_audit_score_file(out: Path, stdout: str) -> None:
    for name in ("scores-dev.txt", "identities.csv", "audit.json", "report.html", "verification_det.png",
                 "verification_by_group_fnmr.png", "verification_histograms.png"):
        assert (out / name).is_file(), name
    assert "43,200 comparisons read" in stdout
    assert "highest FNMR: group N" in stdout  # the planted group
    from fairaudit import VerificationResult

    result = VerificationResult.from_dict(json.loads((out / "audit.json").read_text()))
    fnmr = result.by_group.set_index("label")["fnmr"]
    assert fnmr["N"] > 3 * max(fnmr["A"], fnmr["B"])


def _accuracy_rows(stdout: str, heading: str, models: list[str]) -> dict[str, list[float]]:
    """Accuracy per test group A, B, N, all of every model, from the table printed under ``heading``."""
    rows = _table(stdout, heading)
    assert [m for m in rows if m not in ("test_group", "model")] == models, stdout
    return {m: [float(v) for v in rows[m]] for m in models}


def _check_classification_mixture_sweep(out: Path, stdout: str) -> None:
    for name in ("mixture_sweep.json", "mixture_sweep.png", "cross.png"):
        assert (out / name).is_file(), name
    rows = _accuracy_rows(stdout, "Accuracy of the gender classifier", ["N 0%", "N 20%", "N 40%", "N 60%"])
    assert rows["N 60%"][2] > rows["N 0%"][2] + 0.03  # more N in training -> better on N
    assert rows["N 0%"][2] < min(rows["N 0%"][:2])  # a model that never saw N is worst on N


def _check_custom_extractor_plugin(out: Path, stdout: str) -> None:
    assert (out / "similarity.png").is_file() and (out / "images" / "hopper-original.png").is_file()
    assert stdout.startswith("10 embeddings of 2 people, dimension 192; 3 failures:")
    assert stdout.count("no face found") == 2 and "collins-download.png   unreadable image" in stdout
    scores = _table(stdout, "mean score per person")
    for person in ("hopper", "collins"):
        genuine, impostor = (float(cell.split()[1]) for cell in scores[person])
        assert genuine > impostor + 0.1


def _check_custom_split_strategy(out: Path, stdout: str) -> None:
    assert (out / "minority_downsampled.json").is_file() and (out / "minority_downsampled.png").is_file()
    params = json.loads((out / "minority_downsampled.json").read_text())["params"]
    assert params["split"] == {"name": "minority-downsampled", "group": "N", "fractions": [0.1, 0.3, 1.0]}
    rows = _accuracy_rows(stdout, "Accuracy of the gender classifier", ["N at 10%", "N at 30%", "N at 100%"])
    assert rows["N at 10%"][2] < rows["N at 100%"][2]  # the less N in training, the worse on N
    train = _table(stdout, "Training rows per model")
    assert train["N at 10%"] == ["400", "400", "40"]  # 10 % of the N people of each class of the pool
    assert train["N at 100%"] == ["400", "400", "400"]


def _check_plan_sample_size(out: Path, stdout: str) -> None:
    from fairaudit import PlanResult

    plan = PlanResult.from_json(out / "plan.json")
    assert plan.reached and f"Recommended: {plan.n_identities} identities per group" in stdout
    rows = plan.recommendation.set_index("samples_per_identity")
    # more samples per identity: fewer identities needed
    assert rows.loc[5, "n_identities"] < rows.loc[3, "n_identities"]
    assert plan.calibration["compared_rate"] / plan.calibration["reference_rate"] == pytest.approx(2, rel=0.05)


def _check_identification_audit(out: Path, stdout: str) -> None:
    from fairaudit import IdentificationResult

    for name in ("identification.json", "identification_cmc.png", "identification_det.png",
                 "identification_gallery_size.png", "identification_landing_top_k_lift.png"):
        assert (out / name).is_file(), name
    assert "5,250 searches of a gallery of 750 identities" in stdout
    # the planted 1:N differentials are found: FNIR highest for M & N, FPIR highest for M & A
    assert "highest FNIR: group M & N (planted: M & N)" in stdout
    assert "highest FPIR: group M & A (planted: M & A)" in stdout
    result = IdentificationResult.from_json(out / "identification.json")
    assert result.overall["fpir"] <= 0.02
    lift = result.landing_matrix("top_k_lift")
    assert lift.loc["M & A", "M & A"] > 2 and lift.loc["M & A", "H & B"] < 0.5  # own group crowds the lists
    pooled = result.gallery_size.query("group == 'all'")["fpir"].to_numpy()
    assert (pooled[1:] >= pooled[:-1]).all() and pooled[-1] > 10 * pooled[0]  # FPIR grows with the gallery


def _check_compare_systems(out: Path, stdout: str) -> None:
    for name in ("synthetic_systems.json", "photo_systems.json", "synthetic_det_by_group.png",
                 "synthetic_accuracy_fairness.png"):
        assert (out / name).is_file(), name
    # the comparison finds the planted profiles
    assert "planted: 'accurate' most accurate, 'fair' fairest; found: 'accurate' most accurate, 'fair' fairest" in stdout
    from fairaudit import SystemComparison

    cmp = SystemComparison.from_json(out / "synthetic_systems.json")
    pooled = cmp.difference("accurate", "fair", "fnmr", "all")
    assert pooled["difference"] < 0 and pooled["p_holm"] < 0.05
    figure = cmp.difference("accurate", "fair", "fnmr_max_min")
    assert figure["difference"] > 0 and figure["ci_low"] > 0
    photos = SystemComparison.from_json(out / "photo_systems.json")
    assert photos.systems == ("dlib-resnet", "pixels")
    # two people in one group: no interval, no p-value for the group's differences
    assert photos.differences.loc[photos.differences["scope"] == "group", "p_value"].isna().all()


def _check_covariates(out: Path, stdout: str) -> None:
    for name in ("covariates_explained.json", "covariates_direct.json", "covariates_direct_quality_fnmr_curve.png",
                 "covariates_explained_age_fmr_heatmap.png"):
        assert (out / name).is_file(), name
    # the regression tells the planted gap that quality explains from the one that remains
    assert re.search(r"N vs A: odds ratio [\d.]+ before, [\d.]+ \[[\d.]+, [\d.]+\] after adjustment: the gap "
                     r"does not survive the covariates", stdout)
    assert re.search(r"after adjustment: the gap survives the covariates", stdout)
    from fairaudit import CovariateResult

    explained = CovariateResult.from_json(out / "covariates_explained.json")
    fnmr = explained.table("fnmr", "quality")["N"].to_numpy()
    assert fnmr[0] > fnmr[-1]  # FNMR falls with quality


CHECKS = {
    "covariates.py": _check_covariates,
    "compare_systems.py": _check_compare_systems,
    "plan_sample_size.py": _check_plan_sample_size,
    "verify_own_embeddings.py": _check_verify_own_embeddings,
    "audit_score_file.py": _check_audit_score_file,
    "classification_mixture_sweep.py": _check_classification_mixture_sweep,
    "custom_extractor_plugin.py": _check_custom_extractor_plugin,
    "custom_split_strategy.py": _check_custom_split_strategy,
    "identification_audit.py": _check_identification_audit,
}


def test_every_example_has_checks():
    assert {p.name for p in EXAMPLES} == set(CHECKS)


@pytest.mark.parametrize("script", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(script, tmp_path):
    for module in REQUIRES.get(script.name, ()):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{script.name} needs {module}")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert any((tmp_path / "out").iterdir())
    CHECKS[script.name](tmp_path / "out", proc.stdout)
