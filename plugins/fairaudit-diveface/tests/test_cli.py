"""The plugin on the command line: listing, and ``fairaudit study diveface`` end to end."""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import augment, encode_detections, source_photos

from fairaudit import FairauditInputError
from fairaudit_diveface.cli import NEEDS_INPUT, add_study_command

FAIRAUDIT = str(Path(sys.executable).with_name("fairaudit"))


def _fairaudit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([FAIRAUDIT, *args], capture_output=True, text=True, timeout=300)


def _has_command(name: str) -> bool:
    return f"    {name} " in _fairaudit("--help").stdout


def test_fairaudit_plugins_lists_the_plugin():
    if not _has_command("plugins"):
        pytest.skip("this fairaudit has no 'plugins' command yet")
    done = _fairaudit("plugins")
    assert done.returncode == 0, done.stderr
    assert "diveface" in done.stdout and "fairaudit-diveface" in done.stdout
    for name in ("register_datasets", "register_extractors", "register_commands"):
        assert name in done.stdout


def test_fairaudit_study_diveface_is_a_command():
    if not _has_command("study"):
        pytest.skip("this fairaudit does not call the register_commands hook yet")
    done = _fairaudit("study", "diveface", "--help")
    assert done.returncode == 0, done.stderr
    assert "--weights" in done.stdout and "--detector" in done.stdout
    done = _fairaudit("study", "diveface", "--out", "x")
    assert done.returncode == 2
    assert done.stderr.strip() == f"fairaudit: error: {NEEDS_INPUT}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fairaudit")
    add_study_command(parser.add_subparsers(dest="command"))
    return parser


def test_a_second_study_plugin_shares_the_study_command():
    parser = argparse.ArgumentParser(prog="fairaudit")
    sub = parser.add_subparsers(dest="command")
    add_study_command(sub)
    study = sub.choices["study"]
    other = next(a for a in study._actions if isinstance(a, argparse._SubParsersAction))
    other.add_parser("rfw-paper")
    args = parser.parse_args(["study", "diveface", "--embeddings", "e.npz", "--out", "o"])
    assert args.embeddings == "e.npz" and args.seeds == 3 and args.head == "logistic"


def test_missing_weights_fail_before_any_work(no_model_env, diveface_root, tmp_path):
    args = _parser().parse_args(["study", "diveface", "--root", str(diveface_root),
                                 "--out", str(tmp_path / "out")])
    with pytest.raises(FairauditInputError, match="needs the Keras ResNet-50 VGGFace2 model file 'resnet50.h5'"):
        args.func(args)
    assert not (tmp_path / "out").exists()


def test_study_end_to_end_from_images(diveface_root, tiny_h5, standin_detector_dir, tmp_path, capsys):
    pytest.importorskip("fairaudit.images.extraction", reason="fairaudit.images.extraction not there yet")
    import cv2

    # task 1.1's folder in the study's own layout, and two photos whose faces the stand-in finds
    people = tmp_path / "bbdd_10_personas"
    rng = np.random.default_rng(5)
    for i, photo in enumerate(source_photos() * 2):
        (people / f"person{i}").mkdir(parents=True)
        for k in range(5):
            cv2.imwrite(str(people / f"person{i}" / f"{k}.jpg"), augment(photo, rng)[:, :, ::-1])
    photo = encode_detections([[0, 0, 55 / 64, 20 / 64, 20 / 64, 44 / 64, 44 / 64], [0] * 7, [0] * 7])
    paths = []
    for name in ("einstein_0.png", "einstein_1.png"):  # PNG: the encoded pixels must survive exactly
        cv2.imwrite(str(tmp_path / name), np.ascontiguousarray(photo[:, :, ::-1]))
        paths.append(str(tmp_path / name))
    out = tmp_path / "out"
    argv = ["study", "diveface", "--root", str(diveface_root), "--weights", str(tiny_h5),
            "--detector", str(standin_detector_dir), "--out", str(out), "--n-per-group", "3",
            "--seeds", "1", "--subset-per-group", "3", "--no-tsne", "--no-plots", "--ten-people", str(people),
            "--photos", *paths, "--cache", str(tmp_path / "cache")]
    args = _parser().parse_args(argv)
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "original (LEAKY)" in text and "Task 1.0" in text
    data = json.loads((out / "study.json").read_text())
    assert data["params"]["n_classification"] == 18 and data["params"]["n_features"] == 16
    pairs = data["task_1_0"]["data"]
    assert len(pairs) == 1 and pairs[0][2] == pytest.approx(1.0, abs=1e-5)  # same image twice
    assert data["task_1_1"]["overall"]["n_genuine"] == 4 * 10
    for name in ("embeddings.npz", "embeddings_ten_people.npz", "comparison.csv", "summary.txt"):
        assert (out / name).exists(), name
    assert not (out / "plots").exists()

    # rerun from the saved embeddings: no images, no weights needed
    again = tmp_path / "again"
    args = _parser().parse_args(["study", "diveface", "--embeddings", str(out / "embeddings.npz"),
                                 "--ten-people", str(out / "embeddings_ten_people.npz"),
                                 "--out", str(again), "--seeds", "1", "--subset-per-group", "3",
                                 "--no-tsne", "--no-plots"])
    assert args.func(args) == 0
    first = json.loads((out / "study.json").read_text())["comparison"]["data"]
    second = json.loads((again / "study.json").read_text())["comparison"]["data"]
    assert first == second
    shutil.rmtree(again)
