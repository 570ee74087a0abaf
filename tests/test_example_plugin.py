"""The third-party example plugin under examples/fairaudit-pixels, installed as any plugin would be."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import numpy as np
import pytest

try:
    metadata.distribution("fairaudit-pixels")
except metadata.PackageNotFoundError:  # CI installs it: pip install -e examples/fairaudit-pixels
    pytest.skip("the example plugin fairaudit-pixels is not installed", allow_module_level=True)

cv2 = pytest.importorskip("cv2")


def run(*args):
    return subprocess.run([sys.executable, "-m", "fairaudit.cli", *args], capture_output=True, text=True)


def test_fairaudit_plugins_lists_the_example_extractor():
    proc = run("plugins", "--json")
    assert proc.returncode == 0, proc.stderr
    info = {p["name"]: p for p in json.loads(proc.stdout)}
    assert info["pixels"]["distribution"] == "fairaudit-pixels"
    assert info["pixels"]["registers"] == {"extractor": ["pixels"]}


def test_fairaudit_extract_uses_the_example_extractor(tmp_path):
    from matplotlib import cbook
    from skimage import data as skdata

    grace = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    astronaut = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    root = tmp_path / "photos"
    for name, image in (("grace", grace), ("eileen", astronaut)):
        (root / name).mkdir(parents=True)
        cv2.imwrite(str(root / name / "a.png"), image)
        cv2.imwrite(str(root / name / "b.png"), image[:, ::-1])
    (root / "attributes.csv").write_text("identity,gender\ngrace,F\neileen,F\n")
    out = tmp_path / "pop.npz"
    proc = run("extract", "--dataset", "folder", "--root", str(root), "--extractor", "pixels", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    from fairaudit import EmbeddingSet

    es = EmbeddingSet.load(out)
    assert es.n_features == 256 and len(es) + len(es.failures) == 4
    # the toy embedding is the face's grey pixels: a flipped copy is close, the other person further
    x = es.normalized()
    same = x[es.identity == "grace"]
    other = x[es.identity == "eileen"]
    if len(same) == 2 and len(other):
        assert same[0] @ same[1] > same[0] @ other[0]
    assert np.isfinite(es.embeddings).all()
