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
    assert info["pixels"]["registers"] == {"extractor": ["pixels"], "quality": ["saturated_share"]}
    assert info["pixels"]["hooks"] == ["register_extractors", "register_quality"]


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


def _photos(root):
    """Six people (variants of the two offline photos), three images each, and two images without a face."""
    from matplotlib import cbook
    from skimage import data as skdata

    grace = cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)))
    astronaut = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    rows = []
    for k, (base, gender) in enumerate([(grace, "F"), (astronaut, "F")] * 3):
        person = f"p{k}"
        folder = root / person
        folder.mkdir(parents=True)
        tint = np.clip(base.astype(np.int16) + 12 * k - 30, 0, 255).astype(np.uint8)
        for j, image in enumerate((tint, tint[:, ::-1], cv2.GaussianBlur(tint, (5, 5), 1.0))):
            cv2.imwrite(str(folder / f"{j}.png"), image)
            rows.append((str(folder / f"{j}.png"), person, gender))
        if k < 2:
            cv2.imwrite(str(folder / "blank.png"), np.full((64, 64, 3), 128, np.uint8))
            rows.append((str(folder / "blank.png"), person, gender))
    import pandas as pd

    return pd.DataFrame(rows, columns=["path", "identity", "gender"])


def test_extraction_partitioned_over_dask_workers_equals_one_process(tmp_path):
    distributed = pytest.importorskip("distributed")
    from fairaudit.images import extraction

    manifest = _photos(tmp_path / "photos")
    single = extraction.run_extraction(manifest, extractor="pixels", cache=None, batch_size=2, progress=False,
                                 attributes=None).embeddings
    cache = tmp_path / "cache"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        spread = extraction.extract(manifest, extractor="pixels", cache=cache, batch_size=2, progress=False,
                                    scheduler=client)
    np.testing.assert_array_equal(spread.embeddings, single.embeddings)
    assert list(spread.path) == list(single.path)
    # the quality covariates are computed on the workers and cached in their shards too
    assert "saturated_share" in single.covariate_names and "face_size" in single.covariate_names
    import pandas as pd

    pd.testing.assert_frame_equal(spread.covariates, single.covariates)
    assert spread.failures.equals(single.failures)
    assert (spread.failures["reason"] == "no face found").sum() >= 2
    parts = list(cache.glob("*/parts/*/shard-*.npz"))
    assert parts, "the workers wrote no cache shard"
    # a rerun in one process finds everything in the workers' shards
    again = extraction.run_extraction(manifest, extractor="pixels", cache=str(cache), batch_size=2, progress=False,
                                attributes=None)
    assert again.n_computed == 0 and again.n_from_cache == len(manifest)
    np.testing.assert_array_equal(again.embeddings.embeddings, single.embeddings)
    pd.testing.assert_frame_equal(again.embeddings.covariates, single.covariates)


def test_cli_extract_with_local_workers(tmp_path):
    pytest.importorskip("distributed")
    manifest = _photos(tmp_path / "photos")
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    proc = run("extract", "--manifest", str(tmp_path / "manifest.csv"), "--extractor", "pixels",
               "--out", str(tmp_path / "pop.npz"), "--workers", "2", "--batch-size", "2")
    assert proc.returncode == 0, proc.stderr
    from fairaudit import EmbeddingSet

    es = EmbeddingSet.load(tmp_path / "pop.npz")
    assert len(es) + len(es.failures) == len(manifest)
