"""Several extractors over one dataset in one pass: aligned sets, failures of any extractor recorded in
every set, one cache namespace per extractor (resume), the CLI and the API; one extractor unchanged."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fairaudit import EmbeddingSet, plugins
from fairaudit.cli import main
from fairaudit.cli.images import EXTRACTOR_NOT_A_FILE_NAME, EXTRACTOR_TWICE, cmd_extract, extract_outputs
from fairaudit.common.errors import FairauditInputError
from fairaudit.images.aligned import (
    BAD_EXTRACTOR_LABEL,
    DUPLICATE_EXTRACTOR,
    NO_EXTRACTORS,
    NOT_AN_EXTRACTION,
    OTHER_EXTRACTOR_PREFIX,
    SAME_CACHE_NAMESPACE,
    failure_to_acquire,
    run_extractions,
)
from fairaudit.images.extraction import REASON_DAMAGED, REASON_NO_FACE, REASON_OTHER_EXTRACTOR, cache_info, extract
from fairaudit.images.extractors import WHY_TRUNCATED
from fairaudit.plugins.hookspecs import hookimpl

cv2 = pytest.importorskip("cv2")
pytest.importorskip("dlib")
pytest.importorskip("fairaudit_pixels")

PAIR = ["dlib-resnet", "pixels"]


# --- helpers ---------------------------------------------------------------------------------------
class Counting:
    """Wraps an extractor and counts the images it detects and the chips it embeds."""

    def __init__(self, inner, *, fail_after: int | None = None):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.detected = self.embedded = 0
        self.fail_after = fail_after

    def detect_and_align(self, image):
        self.detected += 1
        return self.inner.detect_and_align(image)

    def embed(self, chips):
        if self.fail_after is not None and self.embedded + len(chips) > self.fail_after:
            raise RuntimeError("model crashed")
        self.embedded += len(chips)
        return self.inner.embed(chips)

    def cache_key(self):
        return self.inner.cache_key()


def real_pair():
    from fairaudit.images.extractors import DlibResnetExtractor
    from fairaudit_pixels import PixelExtractor

    return Counting(DlibResnetExtractor()), Counting(PixelExtractor())


class Toy:
    """Fast stand-in: the mean colour is the face; ``blind`` is the red value whose images it misses."""

    dim = 3

    def __init__(self, name="toy-a", blind=None):
        self.name, self.blind = name, blind

    def detect_and_align(self, image):
        if image.std() < 1 or (self.blind is not None and int(image[0, 0, 0]) == self.blind):
            return None
        return image.reshape(-1, 3).mean(axis=0)

    def embed(self, chips):
        return np.array([np.asarray(c, dtype=np.float32) + 1 for c in chips], dtype=np.float32)

    def cache_key(self):
        return f"{self.name}-v1"


def toy_images(folder: Path, n: int = 12) -> pd.DataFrame:
    """``n`` random images, red value of pixel (0, 0) = its number, 2 per identity, and one flat image."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(5)
    rows = []
    for i in range(n + 1):
        img = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8) if i < n else np.full((8, 8, 3), 90, np.uint8)
        img[0, 0, 0] = i if i < n else 90
        path = folder / f"{i:02d}.png"
        assert cv2.imwrite(str(path), img[:, :, ::-1])
        rows.append({"path": str(path), "identity": f"t{min(i, n - 1) // 2}", "group": "AB"[(min(i, n - 1) // 2) % 2]})
    return pd.DataFrame(rows)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.warpAffine(image, cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0), (w, h))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two real people at half size (Grace Hopper, matplotlib; Eileen Collins, scikit-image), three
    usable copies each, plus: Grace rotated by 30 degrees (dlib's HOG finds her, the Haar cascade of
    'pixels' does not), the astronaut blurred (Haar finds her, HOG does not), a flat grey image (no
    face for either) and a truncated JPEG (damaged: never decoded)."""
    from matplotlib import cbook
    from skimage import data as skdata

    root = tmp_path_factory.mktemp("photos")
    grace = cv2.cvtColor(cv2.imread(str(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))),
                         cv2.COLOR_BGR2RGB)
    people = {"grace": grace, "astronaut": skdata.astronaut()}
    rows = []

    def add(person, name, rgb, group):
        path = root / person / name
        path.parent.mkdir(exist_ok=True)
        assert cv2.imwrite(str(path), np.ascontiguousarray(rgb[:, :, ::-1]))
        rows.append({"path": str(path), "identity": person, "group": group})

    for person, group in (("grace", "A"), ("astronaut", "B")):
        half = cv2.resize(people[person], None, fx=0.5, fy=0.5, interpolation=cv2.INTER_AREA)
        add(person, "plain.png", half, group)
        add(person, "flipped.png", half[:, ::-1], group)
        add(person, "dark.png", (half * 0.4).astype(np.uint8), group)
        if person == "grace":
            add(person, "rotated.png", rotate(half, 30), group)
            add(person, "grey.png", np.full((200, 200, 3), 128, np.uint8), group)
        else:
            add(person, "blurred.png", cv2.GaussianBlur(half, (0, 0), 3), group)
            ok, jpeg = cv2.imencode(".jpg", np.ascontiguousarray(half[:, :, ::-1]))
            (root / person / "cut.jpg").write_bytes(jpeg.tobytes()[: len(jpeg) // 2])
            rows.append({"path": str(root / person / "cut.jpg"), "identity": person, "group": group})
    manifest = pd.DataFrame(rows)
    manifest.to_csv(root / "manifest.csv", index=False)
    return {"root": root, "manifest": manifest, "csv": str(root / "manifest.csv"),
            "path": {f"{Path(p).parent.name}/{Path(p).name}": p for p in manifest["path"]}}


@pytest.fixture(scope="module")
def multi_run(photos, tmp_path_factory):
    """One run of dlib-resnet and pixels over the photos, with a cache, counting the reads."""
    from fairaudit.images import reading

    reads: list[str] = []
    real = reading.read_image

    def counting_read(path, *args, **kwargs):
        reads.append(str(path))
        return real(path, *args, **kwargs)

    cache = tmp_path_factory.mktemp("cache")
    dlib_ex, pixels_ex = real_pair()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(reading, "read_image", counting_read)
        sets = extract(photos["manifest"], extractor=[dlib_ex, pixels_ex], cache=cache, batch_size=3,
                       progress=False)
    return {"sets": sets, "cache": cache, "reads": reads, "counting": (dlib_ex, pixels_ex)}


USABLE = ["grace/plain.png", "grace/flipped.png", "grace/dark.png",
          "astronaut/plain.png", "astronaut/flipped.png", "astronaut/dark.png"]
FAILED = ["grace/rotated.png", "grace/grey.png", "astronaut/blurred.png", "astronaut/cut.jpg"]


# --- aligned sets from real extractors ---------------------------------------------------------------
def test_two_extractors_give_aligned_sets_in_manifest_order(multi_run, photos):
    sets = multi_run["sets"]
    assert list(sets) == PAIR
    dlib_set, pixels_set = sets["dlib-resnet"], sets["pixels"]
    assert (dlib_set.n_features, pixels_set.n_features) == (128, 256)
    for es in sets.values():
        assert list(es.path) == [photos["path"][k] for k in USABLE]
        assert es.identity.tolist() == ["grace"] * 3 + ["astronaut"] * 3
        assert es.attributes["group"].tolist() == ["A"] * 3 + ["B"] * 3
        assert es.failures["path"].tolist() == [photos["path"][k] for k in FAILED]
        assert es.failures[["identity", "group"]].values.tolist() == [["grace", "A"]] * 2 + [["astronaut", "B"]] * 2
    # the faces are real: a photo and its flipped copy are the same person for dlib, the two women are not
    unit = dlib_set.normalized()
    assert unit[0] @ unit[1] > 0.95 and unit[0] @ unit[3] < 0.91


def test_a_failure_of_any_extractor_is_a_failure_row_of_every_set_with_its_reason(multi_run):
    sets = multi_run["sets"]
    damaged = REASON_DAMAGED.format(why=WHY_TRUNCATED)
    assert sets["dlib-resnet"].failures["reason"].tolist() == [
        REASON_OTHER_EXTRACTOR.format(failed=f"'pixels': {REASON_NO_FACE}"),  # Haar misses the rotated face
        REASON_NO_FACE, REASON_NO_FACE, damaged]
    assert sets["pixels"].failures["reason"].tolist() == [
        REASON_NO_FACE, REASON_NO_FACE,
        REASON_OTHER_EXTRACTOR.format(failed=f"'dlib-resnet': {REASON_NO_FACE}"),  # HOG misses the blurred one
        damaged]
    assert sets["dlib-resnet"].metadata["extraction"] == {
        "extractor": "dlib-resnet", "extractors": PAIR, "n_images": 10, "n_own_failures": 3, "n_excluded": 1}
    # each extractor's own failure to acquire, and the run's (what every set holds)
    fta = failure_to_acquire(sets, "group")
    assert fta.index.names == ["extractor", "group"]
    assert fta.loc[("dlib-resnet", "A")].tolist() == [5, 1, 0.2, 2, 0.4]
    assert fta.loc[("dlib-resnet", "B")].tolist() == [5, 2, 0.4, 2, 0.4]
    assert fta.loc[("pixels", "A")].tolist() == [5, 2, 0.4, 2, 0.4]
    assert fta.loc[("pixels", "B")].tolist() == [5, 1, 0.2, 2, 0.4]
    for es in sets.values():
        assert es.failure_to_acquire("group")["fta"].tolist() == [0.4, 0.4]


def test_each_image_is_read_once_and_detected_once_per_extractor(multi_run, photos):
    reads = multi_run["reads"]
    assert sorted(reads) == sorted(photos["manifest"]["path"])  # one read per image for both extractors
    dlib_ex, pixels_ex = multi_run["counting"]
    # the damaged file is refused before decoding: nine images reach the detectors, each detector once
    assert (dlib_ex.detected, pixels_ex.detected) == (9, 9)
    assert (dlib_ex.embedded, pixels_ex.embedded) == (7, 7)  # what each found, kept or not


def test_the_sets_equal_single_extractor_runs_restricted_to_the_common_samples(multi_run, photos):
    """One extractor at a time gives what it gave before: its own failures only, no metadata of a
    multi-extractor run (only the quality measures' record); the aligned sets hold the same
    embeddings, less the images the other extractor could not use."""
    for name in PAIR:
        single = extract(photos["manifest"], extractor=name, progress=False)
        assert isinstance(single, EmbeddingSet) and set(single.metadata) == {"quality"}
        assert single.failures["reason"].str.startswith(OTHER_EXTRACTOR_PREFIX).sum() == 0
        aligned = multi_run["sets"][name]
        assert len(single) == 7 and len(single.failures) == 3
        keep = np.isin(single.path, aligned.path)
        np.testing.assert_allclose(single.embeddings[keep], aligned.embeddings, atol=1e-6)
        own = aligned.failures[~aligned.failures["reason"].str.startswith(OTHER_EXTRACTOR_PREFIX)]
        pd.testing.assert_frame_equal(own.reset_index(drop=True), single.failures)
    # a list of one is several extractors, one of them: a dict, and the single run's set
    (only,) = extract(photos["manifest"], extractor=["pixels"], progress=False).values()
    single = extract(photos["manifest"], extractor="pixels", progress=False)
    np.testing.assert_array_equal(only.embeddings, single.embeddings)
    pd.testing.assert_frame_equal(only.failures, single.failures)


def test_a_rerun_resumes_from_each_extractors_cache(multi_run, photos):
    cache = multi_run["cache"]
    info = cache_info(cache).set_index("extractor")
    assert sorted(info.index) == ["dlib-resnet", "pixels"]
    assert info["n_embeddings"].tolist() == [7, 7] and info["n_failures"].tolist() == [2, 2]
    dlib_ex, pixels_ex = real_pair()
    shuffled = photos["manifest"].iloc[::-1].reset_index(drop=True)
    sets = extract(shuffled, extractor=[dlib_ex, pixels_ex], cache=cache, batch_size=3, progress=False)
    assert (dlib_ex.detected, dlib_ex.embedded, pixels_ex.detected, pixels_ex.embedded) == (0, 0, 0, 0)
    for name in PAIR:
        np.testing.assert_array_equal(sets[name].embeddings, multi_run["sets"][name].embeddings[::-1])
    # one extractor's namespace lost: only that extractor works again, on every image it lacks
    import shutil

    shutil.rmtree(cache / cache_info(cache).set_index("extractor").loc["pixels", "namespace"])
    dlib_ex, pixels_ex = real_pair()
    again = extract(photos["manifest"], extractor=[dlib_ex, pixels_ex], cache=cache, batch_size=3, progress=False)
    assert (dlib_ex.detected, dlib_ex.embedded) == (0, 0)
    assert (pixels_ex.detected, pixels_ex.embedded) == (9, 7)
    for name in PAIR:
        np.testing.assert_array_equal(again[name].embeddings, multi_run["sets"][name].embeddings)
        pd.testing.assert_frame_equal(again[name].failures, multi_run["sets"][name].failures)


# --- the command line -------------------------------------------------------------------------------
def test_cli_writes_one_aligned_file_per_extractor(multi_run, photos, tmp_path, capsys):
    out = tmp_path / "pop.npz"
    code = main(["extract", "--manifest", photos["csv"], "--extractor", "dlib-resnet", "--extractor", "pixels",
                 "--out", str(out), "--cache", str(multi_run["cache"]), "--batch-size", "3"])
    assert code == 0
    text = capsys.readouterr().out
    assert not out.exists()
    written = extract_outputs(out, PAIR)
    assert written == {"dlib-resnet": tmp_path / "pop.dlib-resnet.npz", "pixels": tmp_path / "pop.pixels.npz"}
    loaded = {name: EmbeddingSet.load(path) for name, path in written.items()}
    for name, es in loaded.items():
        np.testing.assert_allclose(es.embeddings, multi_run["sets"][name].embeddings, atol=1e-6)
        pd.testing.assert_frame_equal(es.failures, multi_run["sets"][name].failures)
        # the fixture's counting wrappers give no detection, so its sets have fewer quality measures
        assert es.metadata["extraction"] == multi_run["sets"][name].metadata["extraction"]
    assert "10 images, read once for 2 extractors" in text
    assert "aligned: 6 samples in every set" in text and "4 images failed for at least one extractor" in text
    assert "failed for another extractor: 'pixels': no face found" in text
    assert "failure to acquire by group" in text and str(written["pixels"]) in text


def test_cli_with_one_extractor_is_unchanged(photos, tmp_path, capsys):
    out = tmp_path / "pop.npz"
    assert main(["extract", "--manifest", photos["csv"], "--extractor", "pixels", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pop.npz"]
    assert f"manifest {photos['csv']}: 10 images\nextractor pixels: 7 embedded, 3 failures (0 from the cache, " \
           "10 computed in " in text
    es = EmbeddingSet.load(out)
    single = extract(photos["manifest"], extractor="pixels", progress=False)
    np.testing.assert_allclose(es.embeddings, single.embeddings, atol=1e-6)
    assert es.failures["reason"].tolist() == single.failures["reason"].tolist()


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    return err.rstrip("\n")


def test_cli_refuses_bad_extractor_lists_before_the_work(photos, tmp_path, capsys):
    out = str(tmp_path / "pop.npz")
    base = ["extract", "--manifest", photos["csv"], "--out", out]
    assert main([*base, "--extractor", "pixels", "--extractor", "pixels"]) == 2
    assert _error_line(capsys) == "fairaudit: error: " + EXTRACTOR_TWICE.format(name="pixels")
    assert main([*base, "--extractor", "pixels", "--extractor", "nope"]) == 2
    assert _error_line(capsys) == "fairaudit: error: " + plugins.UNKNOWN_NAME.format(
        argument="--extractor", value="nope", kind="extractor", available=", ".join(plugins.available("extractor")))
    (tmp_path / "pop.pixels.npz").mkdir()  # one of the outputs cannot be written
    assert main([*base, "--extractor", "dlib-resnet", "--extractor", "pixels"]) == 2
    from fairaudit.common.files import OutputPathError, check_output

    with pytest.raises(OutputPathError) as expected:
        check_output(tmp_path / "pop.pixels.npz", name="--out")
    assert _error_line(capsys) == f"fairaudit: error: {expected.value}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pop.pixels.npz"]
    args = argparse.Namespace(dataset=None, root=None, manifest=photos["csv"], extractor=["pixels", "my model"],
                              out=out, cache=None, batch_size=32, scheduler=None, workers=None, max_pixels=None)
    with pytest.raises(FairauditInputError) as info:
        cmd_extract(args)
    assert str(info.value) == EXTRACTOR_NOT_A_FILE_NAME.format(name="my model",
                                                               example=str(tmp_path / "pop.NAME.npz"))


# --- resume after an interruption, hostile input, Dask (fast stand-in models) -------------------------------
def test_an_interrupted_run_resumes_each_extractor_where_it_stopped(tmp_path):
    manifest = toy_images(tmp_path / "img")
    cache = tmp_path / "cache"
    a, b = Counting(Toy("toy-a")), Counting(Toy("toy-b", blind=3), fail_after=4)
    with pytest.raises(RuntimeError, match="model crashed"):
        extract(manifest, extractor=[a, b], cache=cache, batch_size=2, progress=False)
    done = cache_info(cache).set_index("extractor")
    finished_a = int(done.loc["toy-a", "n_embeddings"] + done.loc["toy-a", "n_failures"])
    finished_b = int(done.loc["toy-b", "n_embeddings"] + done.loc["toy-b", "n_failures"])
    # batches of 2: b embedded two batches, then crashed on the third; both kept their finished shards
    assert 4 <= finished_b <= finished_a < len(manifest)
    a2, b2 = Counting(Toy("toy-a")), Counting(Toy("toy-b", blind=3))
    resumed = extract(manifest, extractor=[a2, b2], cache=cache, batch_size=2, progress=False)
    assert a2.detected == len(manifest) - finished_a and b2.detected == len(manifest) - finished_b
    clean = extract(manifest, extractor=[Toy("toy-a"), Toy("toy-b", blind=3)], batch_size=5, progress=False)
    for name in ("toy-a", "toy-b"):
        np.testing.assert_array_equal(resumed[name].embeddings, clean[name].embeddings)
        pd.testing.assert_frame_equal(resumed[name].failures, clean[name].failures)
    assert clean["toy-a"].failures["reason"].tolist() == [
        REASON_OTHER_EXTRACTOR.format(failed=f"'toy-b': {REASON_NO_FACE}"), REASON_NO_FACE]


def test_outcome_counts_what_came_from_each_cache(tmp_path):
    manifest = toy_images(tmp_path / "img")
    cache = tmp_path / "cache"
    extract(manifest, extractor=[Toy("toy-a")], cache=cache, progress=False)
    outcome = run_extractions(manifest, extractors={"first": Toy("toy-a"), "second": Toy("toy-b")}, cache=str(cache),
                              batch_size=4, progress=False, attributes=None)
    assert outcome.n_from_cache == {"first": 13, "second": 0}
    assert outcome.n_computed == {"first": 0, "second": 13}
    assert list(outcome.sets) == ["first", "second"] and outcome.n_images == 13


def test_bad_extractor_lists_are_refused_with_the_fix(tmp_path):
    manifest = toy_images(tmp_path / "img", n=4)
    for empty in ([], {}, ()):
        with pytest.raises(FairauditInputError) as info:
            extract(manifest, extractor=empty)
        assert str(info.value) == NO_EXTRACTORS.format(value=empty, type=type(empty).__name__)
    twice = [Toy("toy-a"), Toy("toy-a")]
    with pytest.raises(FairauditInputError) as info:
        extract(manifest, extractor=twice)
    assert str(info.value) == DUPLICATE_EXTRACTOR.format(value=twice, label="toy-a")
    with pytest.raises(FairauditInputError) as info:
        extract(manifest, extractor={"a": Toy(), 7: Toy("toy-b")})
    assert str(info.value) == BAD_EXTRACTOR_LABEL.format(value=7, type="int")
    with pytest.raises(FairauditInputError, match=r"^extractor=<object .* is not an extractor"):
        extract(manifest, extractor=[Toy(), object()])
    # one extractor with one setting under two labels: the same work twice, in one cache namespace
    with pytest.raises(FairauditInputError) as info:
        extract(manifest, extractor={"x": Toy("toy-a"), "y": Toy("toy-a")}, cache=tmp_path / "cache")
    assert str(info.value).startswith(SAME_CACHE_NAMESPACE.split("{namespace")[0].format(first="x", second="y"))
    assert not (tmp_path / "cache").exists()
    for bad in ({}, [], {"a": "not a set"}):
        with pytest.raises(FairauditInputError) as info:
            failure_to_acquire(bad, "group")
        assert str(info.value) == NOT_AN_EXTRACTION.format(value=bad)


class ToyPlugin:
    @staticmethod
    @hookimpl
    def register_extractors(register):
        register("toy-multi-a", lambda: Toy("toy-multi-a"), description="test stand-in")
        register("toy-multi-b", lambda: Toy("toy-multi-b", blind=5), description="test stand-in, blind to 5")


def test_several_extractors_partitioned_over_dask_workers_equal_one_process(tmp_path):
    pytest.importorskip("distributed")
    manifest = toy_images(tmp_path / "img")
    name = plugins.register_plugin(ToyPlugin(), name="toy-multi-plugin")
    try:
        names = ["toy-multi-a", "toy-multi-b"]
        local = extract(manifest, extractor=names, batch_size=2, progress=False)
        cache = tmp_path / "cache"
        spread = extract(manifest, extractor=names, cache=cache, batch_size=2, progress=False,
                         scheduler="threads", workers=2)
        for n in names:
            np.testing.assert_array_equal(spread[n].embeddings, local[n].embeddings)
            pd.testing.assert_frame_equal(spread[n].failures, local[n].failures)
        assert local["toy-multi-a"].failures["reason"].tolist()[0] == REASON_OTHER_EXTRACTOR.format(
            failed=f"'toy-multi-b': {REASON_NO_FACE}")
        assert list(cache.glob("*/parts/*/shard-*.npz"))
        again = run_extractions(manifest, extractors=names, cache=str(cache), batch_size=2, progress=False,
                                attributes=None)
        assert again.n_computed == {"toy-multi-a": 0, "toy-multi-b": 0}
    finally:
        plugins.unregister_plugin(name)
