"""Image quality measures: the built-ins against independent computations, ``extract`` giving them as
covariates on real photos, their cache (reuse, old and damaged shards), the hook, the CLI options and
the example plugin's measure."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit import EmbeddingSet, FairauditInputError, hookimpl, plugins
from fairaudit.cli import main
from fairaudit.images import extraction
from fairaudit.images import quality as q
from fairaudit.images.cache import CACHE_QUALITY_MISSING

cv2 = pytest.importorskip("cv2")
ndimage = pytest.importorskip("scipy.ndimage")

BUILTINS = ["face_size", "sharpness", "brightness", "contrast", "detector_confidence", "yaw"]
HAS_EXAMPLE = True
try:
    metadata.distribution("fairaudit-pixels")
except metadata.PackageNotFoundError:
    HAS_EXAMPLE = False


def rng_image(h=60, w=80, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def call(measure, image, box=None, confidence=None, landmarks=None):
    return measure(image, box=box, confidence=confidence, landmarks=landmarks)


# --- the built-in measures against independent computations -------------------------------------------
def test_grey_crop_brightness_and_contrast_against_numpy():
    image = rng_image()
    box = (10, 5, 50, 45)
    crop = image[5:45, 10:50].astype(np.float64)
    grey = crop[..., 0] * 0.299 + crop[..., 1] * 0.587 + crop[..., 2] * 0.114
    assert call(q.Brightness(), image, box) == {"brightness": pytest.approx(grey.mean(), rel=1e-12)}
    assert call(q.Contrast(), image, box) == {"contrast": pytest.approx(grey.std(), rel=1e-12)}
    # a flat face: its grey level, no contrast
    flat = np.full((30, 30, 3), (200, 100, 50), np.uint8)
    assert call(q.Brightness(), flat, (0, 0, 30, 30))["brightness"] == pytest.approx(0.299 * 200 + 0.587 * 100 + 5.7)
    assert call(q.Contrast(), flat, (0, 0, 30, 30))["contrast"] == pytest.approx(0.0, abs=1e-9)


def test_sharpness_is_the_variance_of_scipys_laplacian_and_falls_with_blur():
    image = rng_image(64, 64, seed=3)
    box = (4, 6, 60, 58)
    grey = image[6:58, 4:60].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    # the face resampled to 112 x 112 by OpenCV (bilinear), an independent resampler
    canonical = cv2.resize(grey.astype(np.float32), (112, 112), interpolation=cv2.INTER_LINEAR).astype(np.float64)
    expected = ndimage.laplace(canonical).var()
    assert call(q.Sharpness(), image, box)["sharpness"] == pytest.approx(expected, rel=0.05)
    np.testing.assert_allclose(q.laplacian(grey), ndimage.laplace(grey), atol=1e-9)
    blurred = cv2.GaussianBlur(image, (7, 7), 2.0)
    assert call(q.Sharpness(), blurred, box)["sharpness"] < call(q.Sharpness(), image, box)["sharpness"] / 4


def test_a_face_photographed_smaller_is_less_sharp():
    from matplotlib import cbook
    from PIL import Image

    photo = np.asarray(Image.open(cbook.get_sample_data("grace_hopper.jpg")).convert("RGB"))
    box = (150, 120, 390, 400)
    small = np.asarray(Image.fromarray(photo).resize((photo.shape[1] // 3, photo.shape[0] // 3), Image.BOX))
    small_box = tuple(v // 3 for v in box)
    assert call(q.Sharpness(), small, small_box)["sharpness"] < call(q.Sharpness(), photo, box)["sharpness"]


def test_face_size_and_boxes_reaching_outside_the_image():
    image = rng_image(100, 200)
    assert call(q.FaceSize(), image, (10, 20, 50, 110))["face_size"] == pytest.approx(math.sqrt(40 * 80))
    assert q.clip_box((-5, -5, 300, 300), image.shape) == (0, 0, 200, 100)
    assert q.clip_box((250, 150, 260, 160), image.shape) == (199, 99, 200, 100)  # never empty
    for measure in (q.Sharpness(), q.Brightness(), q.Contrast(), q.FaceSize()):
        (value,) = call(measure, image, (250, 150, 260, 160)).values()
        assert math.isfinite(value)


def landmarks_for(yaw_deg, roll_deg=0.0, *, width=60.0, centre=(100.0, 80.0)):
    """dlib-ordered 5 points of a head turned by ``yaw_deg`` (orthographic view), rolled in-plane.

    Eyes at x = +-w/2 (corners at +-w/4 around each centre), the nose point w/2 in front of the eyes
    and 0.6 w below them: the head model of ``yaw_degrees``.
    """
    t = math.radians(yaw_deg)
    w = width

    def project(x, y, z):  # rotate about the vertical axis, then drop z
        return np.array([x * math.cos(t) + z * math.sin(t), y])

    right_eye = [project(w / 2 + w / 8, 0, 0), project(w / 2 - w / 8, 0, 0)]   # points 0, 1 (image right)
    left_eye = [project(-w / 2 - w / 8, 0, 0), project(-w / 2 + w / 8, 0, 0)]  # points 2, 3
    nose = project(0, 0.6 * w, w / 2)
    pts = np.array(right_eye + left_eye + [nose])
    r = math.radians(roll_deg)
    rot = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    return pts @ rot.T + np.array(centre)


@pytest.mark.parametrize("yaw", [-60, -30, -5, 0, 10, 45, 75])
def test_yaw_recovers_the_angle_of_synthetic_heads_and_ignores_roll(yaw):
    for roll in (0, 15, -25):
        got = call(q.Yaw(), rng_image(), landmarks=landmarks_for(yaw, roll))["yaw"]
        assert got == pytest.approx(yaw, abs=1e-9)


def test_yaw_sign_and_degenerate_landmarks():
    frontal = landmarks_for(0)
    assert q.yaw_degrees(frontal) == pytest.approx(0, abs=1e-12)
    nose_right = frontal.copy()
    nose_right[4, 0] += 10  # nose right of the eyes in the image: positive
    assert q.yaw_degrees(nose_right) > 0
    mirrored = frontal.copy()
    mirrored[4, 0] -= 10
    assert q.yaw_degrees(mirrored) == pytest.approx(-q.yaw_degrees(nose_right))
    # the point order of the eyes does not matter (the eyes are told apart by their position)
    assert q.yaw_degrees(nose_right[[2, 3, 0, 1, 4]]) == pytest.approx(q.yaw_degrees(nose_right))
    assert q.yaw_degrees(np.full((5, 2), 7.0)) == 0.0  # all points at one place: finite


def test_detector_confidence_and_the_registered_built_ins():
    assert call(q.DetectorConfidence(), rng_image(), confidence=1.25) == {"detector_confidence": 1.25}
    assert set(BUILTINS) <= set(plugins.available("quality"))
    assert plugins.get("quality", "yaw").plugin == "fairaudit.plugins.builtin.quality"


# --- planning: what applies to which extractor -------------------------------------------------------
class Toy:
    """Mean colour as the 'face'; flat images have none; gives no detection."""

    dim = 3

    def __init__(self, name="toy", key="toy-v1"):
        self.name, self.key = name, key

    def detect_and_align(self, image):
        return None if image.std() < 1 else image.reshape(-1, 3).mean(axis=0)

    def embed(self, chips):
        return np.array([np.asarray(c, dtype=np.float32) + 1 for c in chips], dtype=np.float32)

    def cache_key(self):
        return self.key


class BoxToy(Toy):
    """Toy with a detection: the central half of the image as the box, a fixed score, no landmarks."""

    detection_provides = ("box", "confidence")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.detected = 0

    def detect_and_align_with_detection(self, image):
        self.detected += 1
        chip = self.detect_and_align(image)
        if chip is None:
            return None, None
        h, w = image.shape[:2]
        return chip, q.Detection(box=(w // 4, h // 4, 3 * w // 4, 3 * h // 4), confidence=0.5)


def test_measures_the_extractor_cannot_feed_are_left_out_with_a_note():
    plan = q.plan_quality(True, BoxToy())
    assert [n for n in plan.names if n in BUILTINS] == ["face_size", "sharpness", "brightness", "contrast",
                                                       "detector_confidence"]
    assert len([n for n in plan.notes if "'yaw'" in n]) == 1 and "landmarks" in plan.notes[0]
    plain = q.plan_quality(True, Toy())
    assert not [n for n in plain.names if n in BUILTINS] and len(plain.notes) == len(BUILTINS)
    with pytest.warns(RuntimeWarning, match="'yaw' is left out"):
        assert q.plan_quality(["yaw", "sharpness"], BoxToy()).names == ["sharpness"]
    assert not q.plan_quality(False, BoxToy()) and q.plan_quality(False, BoxToy()).notes == []


def test_bad_quality_arguments_are_one_line_errors():
    with pytest.raises(FairauditInputError, match=r"quality='blur' is not a registered quality"):
        q.plan_quality(["blur"], Toy())
    with pytest.raises(FairauditInputError, match="twice"):
        q.plan_quality(["yaw", "yaw"], Toy())
    with pytest.raises(FairauditInputError, match="must be True"):
        q.plan_quality(3, Toy())


# --- extract with quality: toy images ----------------------------------------------------------------
def write_rgb(path: Path, rgb: np.ndarray) -> str:
    assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
    return str(path)


def toy_images(folder: Path, n: int, flat: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n + flat):
        img = rng.integers(0, 256, (24, 24, 3), dtype=np.uint8) if i < n else np.full((24, 24, 3), 128, np.uint8)
        rows.append({"path": write_rgb(folder / f"img{i:02d}.png", img), "identity": f"p{i // 2}",
                     "group": "AB"[(i // 2) % 2]})
    return pd.DataFrame(rows)


class Spy:
    """A quality measure that counts its calls (registered under the name 'spy')."""

    calls = 0
    version = "1"

    def __call__(self, image, *, box, confidence, landmarks):
        Spy.calls += 1
        return {"spy_mean": float(image.mean())}


class SpyPlugin:
    @hookimpl
    def register_quality(self, register):
        register("spy", Spy)


@pytest.fixture
def spy():
    name = plugins.register_plugin(SpyPlugin(), name="spy-plugin")
    Spy.calls = 0
    try:
        yield Spy
    finally:
        plugins.unregister_plugin(name)


def test_extract_gives_finite_numeric_covariates_and_the_cache_reuses_them(tmp_path, spy):
    manifest = toy_images(tmp_path, 6, flat=1)
    cache = tmp_path / "cache"
    ext = BoxToy()
    es = extraction.extract(manifest, extractor=ext, cache=cache, batch_size=4, progress=False)
    assert ext.detected == 7 and spy.calls == 6  # every embedded image once, not the faceless one
    assert {"face_size", "sharpness", "brightness", "contrast", "detector_confidence", "spy_mean"} <= set(
        es.covariate_names)
    assert "yaw" not in es.covariate_names
    assert set(es.covariate_kinds.values()) == {"numeric"}
    assert np.isfinite(es.covariates.to_numpy()).all()
    assert (es.covariates["face_size"] == 12.0).all() and (es.covariates["detector_confidence"] == 0.5).all()
    assert es.metadata["quality"]["notes"] and es.metadata["quality"]["n_recomputed"] == 0
    # the brightness is the mean grey level of the central box of each file
    from fairaudit.images import read_image

    image = read_image(es.path[0])
    grey = image[6:18, 6:18].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    assert es.covariates["brightness"][0] == pytest.approx(grey.mean())
    # a rerun detects nothing and computes no measure: the values come from the shards
    again_ext = BoxToy()
    again = extraction.run_extraction(manifest, extractor=again_ext, cache=cache, batch_size=4, progress=False,
                                      attributes=None)
    assert again_ext.detected == 0 and spy.calls == 6 and again.n_computed == 0
    pd.testing.assert_frame_equal(again.embeddings.covariates, es.covariates)
    # saved and loaded with the set
    es.save(tmp_path / "pop.npz")
    pd.testing.assert_frame_equal(EmbeddingSet.load(tmp_path / "pop.npz").covariates, es.covariates)
    # fewer measures: served from the same shards, nothing computed
    only = extraction.extract(manifest, extractor=BoxToy(), cache=cache, quality=["sharpness"], progress=False)
    assert only.covariate_names == ["sharpness"] and spy.calls == 6
    np.testing.assert_array_equal(only.covariates["sharpness"], es.covariates["sharpness"])


def test_no_quality_gives_no_covariates_and_an_old_shard_is_recomputed_with_a_note(tmp_path, spy):
    manifest = toy_images(tmp_path, 4)
    cache = tmp_path / "cache"
    plain = extraction.extract(manifest, extractor=BoxToy(), cache=cache, quality=False, progress=False)
    assert plain.covariate_names == [] and "quality" not in plain.metadata and spy.calls == 0
    ns = next(p for p in cache.iterdir() if p.is_dir())
    with np.load(next(ns.glob("shard-*.npz"))) as z:  # a shard as an older fairaudit wrote it
        assert "quality" not in z.files
    ext = BoxToy()
    with pytest.warns(RuntimeWarning) as record:
        es = extraction.extract(manifest, extractor=ext, cache=cache, progress=False)
    messages = [str(w.message) for w in record]
    assert any(m.startswith(CACHE_QUALITY_MISSING.split("{")[0]) and "4 cached image(s)" in m for m in messages)
    assert ext.detected == 4 and spy.calls == 4 and es.metadata["quality"]["n_recomputed"] == 4
    np.testing.assert_array_equal(es.embeddings, plain.embeddings)
    # upgraded: the next run finds everything, without a warning
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = extraction.run_extraction(manifest, extractor=BoxToy(), cache=cache, batch_size=32,
                                          progress=False, attributes=None)
    assert again.n_computed == 0 and spy.calls == 4
    pd.testing.assert_frame_equal(again.embeddings.covariates, es.covariates)


def test_a_damaged_quality_array_quarantines_its_shard(tmp_path, spy):
    manifest = toy_images(tmp_path, 4)
    cache = tmp_path / "cache"
    reference = extraction.extract(manifest, extractor=BoxToy(), cache=cache, batch_size=2, progress=False)
    ns = next(p for p in cache.iterdir() if p.is_dir())
    shard = ns / "shard-000000.npz"
    with np.load(shard) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["quality"][0, 0] = np.nan
    with open(shard, "wb") as fh:
        np.savez(fh, **arrays)
    ext = BoxToy()
    with pytest.warns(RuntimeWarning, match="quality values contain NaN"):
        es = extraction.extract(manifest, extractor=ext, cache=cache, batch_size=2, progress=False)
    assert ext.detected == 2 and (ns / "damaged" / "shard-000000.npz").exists()
    pd.testing.assert_frame_equal(es.covariates, reference.covariates)


def test_a_measure_returning_nan_or_changing_names_is_an_error_naming_it(tmp_path):
    class Bad:
        def __call__(self, image, *, box, confidence, landmarks):
            return {"bad": float("nan")}

    class Plugin:
        @hookimpl
        def register_quality(self, register):
            register("bad", Bad)

    name = plugins.register_plugin(Plugin(), name="bad-plugin")
    try:
        manifest = toy_images(tmp_path, 4)
        with pytest.raises(FairauditInputError, match=r"quality measure 'bad' returned 'bad': nan for the image"):
            extraction.extract(manifest, extractor=Toy(), quality=["bad"], progress=False)
    finally:
        plugins.unregister_plugin(name)


def test_a_measure_that_raises_is_one_line_error_and_the_cache_keeps_what_was_done(tmp_path):
    class Broken:
        def __init__(self):
            self.calls = 0

        def __call__(self, image, *, box, confidence, landmarks):
            self.calls += 1
            if self.calls > 3:
                raise ZeroDivisionError("division by zero")
            return {"broken": 1.0}

    class Plugin:
        @hookimpl
        def register_quality(self, register):
            register("broken", Broken)

    name = plugins.register_plugin(Plugin(), name="broken-plugin")
    try:
        manifest = toy_images(tmp_path, 8)
        cache = tmp_path / "cache"
        with pytest.raises(FairauditInputError) as info:
            extraction.extract(manifest, extractor=Toy(), quality=["broken"], cache=cache, batch_size=2,
                               progress=False)
        msg = str(info.value)
        assert "quality measure 'broken' failed on the image" in msg and "ZeroDivisionError" in msg
        assert "\n" not in msg
        assert any(cache.rglob("*.npz"))  # the batches finished before the failure stay cached
    finally:
        plugins.unregister_plugin(name)


def test_a_quality_name_registered_twice_is_an_error_naming_both_plugins():
    class Clash:
        @hookimpl
        def register_quality(self, register):
            register("sharpness", q.Sharpness)

    name = plugins.register_plugin(Clash(), name="clashing-quality")
    try:
        with pytest.raises(FairauditInputError) as info:
            plugins.registry("quality")
        msg = str(info.value)
        assert "'fairaudit.plugins.builtin.quality'" in msg and "'clashing-quality'" in msg
        assert "\n" not in msg
    finally:
        plugins.unregister_plugin(name)
    assert "sharpness" in plugins.available("quality")


# --- real photos through extract, and the command line ------------------------------------------------
@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    import matplotlib.cbook as cbook

    skdata = pytest.importorskip("skimage.data")
    folder = tmp_path_factory.mktemp("quality_photos")
    grace = cv2.cvtColor(cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))),
                         cv2.COLOR_BGR2RGB)
    astronaut = skdata.astronaut()
    rows = []
    for person, image in (("grace", grace), ("eileen", astronaut)):
        rows.append((write_rgb(folder / f"{person}.png", image), person, "F"))
        rows.append((write_rgb(folder / f"{person}_flipped.png", image[:, ::-1]), person, "F"))
        rows.append((write_rgb(folder / f"{person}_blurred.png", cv2.GaussianBlur(image, (9, 9), 2.5)), person, "F"))
    manifest = pd.DataFrame(rows, columns=["path", "identity", "gender"])
    manifest.to_csv(folder / "manifest.csv", index=False)
    return {"manifest": manifest, "csv": str(folder / "manifest.csv")}


def test_real_photos_through_extract_give_finite_quality_covariates(photos):
    pytest.importorskip("dlib")
    es = extraction.extract(photos["manifest"], extractor="dlib-resnet", progress=False)
    assert len(es) == 6 and len(es.failures) == 0
    assert set(BUILTINS) <= set(es.covariate_names)
    cov = es.covariates
    assert np.isfinite(cov.to_numpy()).all()
    by_path = cov.set_index(pd.Index([os.path.basename(p) for p in es.path]))
    for person in ("grace", "eileen"):
        plain, flipped, blurred = (by_path.loc[f"{person}{s}.png"] for s in ("", "_flipped", "_blurred"))
        assert plain["sharpness"] > 1.5 * blurred["sharpness"]  # blur lowers the sharpness
        assert plain["yaw"] * flipped["yaw"] <= 0  # mirroring the photo turns the head the other way
        assert abs(plain["yaw"]) < 30 and plain["face_size"] > 50
        assert plain["detector_confidence"] > 0
        assert 0 < plain["brightness"] < 255 and plain["contrast"] > 5
    haar = extraction.extract(photos["manifest"], extractor="dlib-resnet-haar", progress=False)
    assert "detector_confidence" not in haar.covariate_names and "yaw" in haar.covariate_names
    assert any("'detector_confidence'" in n for n in haar.metadata["quality"]["notes"])


def test_cli_quality_options(photos, tmp_path, capsys):
    pytest.importorskip("dlib")
    out = tmp_path / "pop.npz"
    assert main(["extract", "--manifest", photos["csv"], "--out", str(out), "--quality", "sharpness",
                 "--quality", "yaw"]) == 0
    assert EmbeddingSet.load(out).covariate_names == ["sharpness", "yaw"]
    assert "quality covariates: sharpness, yaw" in capsys.readouterr().out
    assert main(["extract", "--manifest", photos["csv"], "--out", str(out), "--no-quality"]) == 0
    assert EmbeddingSet.load(out).covariate_names == []
    assert "quality covariates: none" in capsys.readouterr().out
    assert main(["extract", "--manifest", photos["csv"], "--out", str(out), "--extractor", "dlib-resnet-haar"]) == 0
    text = capsys.readouterr().out
    assert "note: quality measure 'detector_confidence' is left out of this run" in text
    assert main(["extract", "--manifest", photos["csv"], "--out", str(out), "--quality", "blur"]) == 2
    assert "--quality='blur' is not a registered quality" in capsys.readouterr().err
    assert main(["extract", "--manifest", photos["csv"], "--out", str(out), "--quality", "yaw",
                 "--no-quality"]) == 2
    assert "contradict" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_EXAMPLE, reason="the example plugin fairaudit-pixels is not installed")
def test_the_example_plugins_measure_shows_up(photos, tmp_path):
    assert plugins.get("quality", "saturated_share").plugin == "pixels"
    out = tmp_path / "pixels.npz"
    proc = subprocess.run([sys.executable, "-m", "fairaudit.cli", "extract", "--manifest", photos["csv"],
                           "--extractor", "pixels", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    es = EmbeddingSet.load(out)
    assert "saturated_share" in es.covariate_names and "face_size" in es.covariate_names
    share = es.covariates["saturated_share"].to_numpy()
    assert np.isfinite(share).all() and ((share >= 0) & (share <= 1)).all()
    # it needs nothing but the image, so it applies to an extractor without detections too
    assert "saturated_share" in q.plan_quality(True, Toy()).names


def test_import_fairaudit_stays_light():
    code = ("import sys, fairaudit\nfrom fairaudit import plugins\nplugins.registry('quality')\n"
            "print(','.join(m for m in ('cv2', 'dlib', 'tensorflow', 'scipy.ndimage') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""
