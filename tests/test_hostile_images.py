"""Hostile input to the image pipeline and its cache: damaged files, decompression bombs, damaged
cache shards, unwritable outputs and every other bad input of ``extract`` and ``compare``.

Each case checks the exact error line or failure reason, and that nothing finished is lost.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import struct
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from fairaudit import EmbeddingSet
from fairaudit import plugins
from fairaudit.cli import main
from fairaudit.images.datasets import CSV_DUPLICATE_COLUMNS, CSV_MISSING_COLUMN, CSV_MISSING_VALUES, CSV_UNREADABLE
from fairaudit.common.errors import FairauditInputError
from fairaudit.cli.images import (
    BAD_BATCH_SIZE_OPTION,
    BAD_MAX_PIXELS_OPTION,
    BAD_OUT,
    DATASET_NEEDS_ROOT,
    EXTRACT_SOURCE,
    MANIFEST_NOT_FOUND,
    add_image_options,
    cmd_extract,
)
from fairaudit.images.extraction import (
    CACHE_SHARD_DAMAGED,
    COMPARE_IMAGE,
    REASON_DAMAGED,
    REASON_NO_FACE,
    REASON_TOO_LARGE,
    REASON_UNREADABLE,
    compare,
    extract,
)
from fairaudit.images.extractors import (
    BAD_MAX_PIXELS,
    DEFAULT_MAX_PIXELS,
    FIX_DAMAGED,
    FIX_MISSING,
    FIX_TOO_LARGE,
    FIX_UNDECODABLE,
    IMAGE_DAMAGED,
    IMAGE_TOO_LARGE,
    IMAGE_UNREADABLE,
    WHY_CORRUPT_AT,
    WHY_DIRECTORY,
    WHY_EMPTY,
    WHY_MISSING,
    WHY_NOT_IMAGE,
    WHY_NOT_REGULAR,
    WHY_TOO_MANY_BYTES,
    WHY_TOO_MANY_PIXELS,
    WHY_TRUNCATED,
    ImageDamagedError,
    ImageReadError,
    ImageTooLargeError,
    read_image,
)
from fairaudit.plugins.hookspecs import hookimpl
from fairaudit.common.files import OutputPathError, check_output

#: every "corrupt data" reason the checks give, with the byte offset as a group
CORRUPT_RE = re.compile(re.escape(WHY_CORRUPT_AT).replace(r"\{offset\}", r"(\d+)").replace(r"\{problem\}", r".+"))


# --- material ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def grace() -> bytes:
    """matplotlib's grace_hopper.jpg: a baseline JPEG of 512 x 600 pixels, 61,306 bytes."""
    import matplotlib.cbook as cbook

    return Path(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).read_bytes()


@pytest.fixture(scope="module")
def astronaut_png() -> bytes:
    skdata = pytest.importorskip("skimage.data")
    buf = io.BytesIO()
    Image.fromarray(skdata.astronaut()).save(buf, "PNG")
    return buf.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid single-colour PNG of ``width`` x ``height`` pixels (1-bit grey), written row by row
    with zlib: 50 MB of scanlines compress to about 50 KB, and nothing large is ever held."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)  # filter byte 0, then white pixels
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat) + _png_chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(bomb_png())
    return str(path)


def damage(data: bytes, kind: str, offset: int) -> bytes:
    """``data`` with bytes overwritten, inserted or deleted at ``offset``."""
    b = bytearray(data)
    if kind == "zeros":
        b[offset:offset + 32] = bytes(32)
    elif kind == "random":
        b[offset:offset + 32] = np.random.default_rng(offset).integers(0, 256, 32, dtype=np.uint8).tobytes()
    elif kind == "end marker":
        b[offset:offset + 2] = b"\xff\xd9"
    elif kind == "restart marker":
        b[offset:offset + 2] = b"\xff\xd3"
    elif kind == "inserted":
        b[offset:offset] = bytes(range(16))
    elif kind == "deleted":
        del b[offset:offset + 16]
    return bytes(b)


class Toy:
    """A fast stand-in model: the mean colour is the 'face'; flat images have none. Counts its calls."""

    name = "toy-hostile"
    dim = 3
    calls = 0

    def detect_and_align(self, image):
        type(self).calls += 1
        return None if image.std() < 1 else image.reshape(-1, 3).mean(axis=0)

    def embed(self, chips):
        return np.array([np.asarray(c, dtype=np.float32) + 1 for c in chips], dtype=np.float32)

    def cache_key(self):
        return "toy-hostile-v1"


class ToyPlugin:
    @staticmethod
    @hookimpl
    def register_extractors(register):
        register("toy-hostile", Toy, description="test stand-in")


@pytest.fixture
def toy_plugin():
    name = plugins.register_plugin(ToyPlugin(), name="toy-hostile-plugin")
    Toy.calls = 0
    try:
        yield
    finally:
        plugins.unregister_plugin(name)


def good_images(folder: Path, n: int = 6) -> list[dict]:
    """``n`` small random colour PNGs, 2 per identity, groups A/B."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    rows = []
    for i in range(n):
        img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
        img[..., i % 3] = 40 + 10 * i
        path = folder / f"good{i}.png"
        Image.fromarray(img).save(path)
        rows.append({"path": str(path), "identity": f"p{i // 2}", "group": "AB"[(i // 2) % 2]})
    return rows


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # one line, never a traceback
    return err.rstrip("\n")


# --- 1. damaged files -------------------------------------------------------------------------
@pytest.mark.parametrize("cut", [100, 300, 451, 6_000, 30_653, 55_000, 61_000, -2, -1])
def test_truncated_jpeg_is_damaged_not_embedded(grace, tmp_path, cut):
    # 100: inside the header, 300: inside a Huffman table, 451: just after the scan header,
    # -2: the end-of-image marker missing, -1: its last byte missing
    path = tmp_path / "cut.jpg"
    path.write_bytes(grace[:cut])
    with pytest.raises(ImageDamagedError) as info:
        read_image(path)
    assert info.value.why == WHY_TRUNCATED
    assert str(info.value) == IMAGE_DAMAGED.format(path=str(path), why=WHY_TRUNCATED, fix=FIX_DAMAGED)


@pytest.mark.parametrize("kind", ["zeros", "random", "end marker", "restart marker", "inserted", "deleted"])
@pytest.mark.parametrize("offset", [8_000, 20_000, 35_000, 50_000])
def test_jpeg_with_damaged_bytes_is_damaged_at_or_after_the_damage(grace, tmp_path, kind, offset):
    path = tmp_path / "damaged.jpg"
    path.write_bytes(damage(grace, kind, offset))
    with pytest.raises(ImageDamagedError) as info:
        read_image(path)
    match = CORRUPT_RE.fullmatch(info.value.why)
    assert match, info.value.why
    assert int(match.group(1)) >= offset  # the data before the damage is intact, and checked as such


@pytest.mark.parametrize("offset", [3_000, 12_000, 24_000])
def test_progressive_jpeg_with_damaged_bytes_is_damaged(astronaut_png, tmp_path, offset):
    buf = io.BytesIO()
    Image.open(io.BytesIO(astronaut_png)).save(buf, "JPEG", quality=85, progressive=True)
    intact = buf.getvalue()
    (tmp_path / "intact.jpg").write_bytes(intact)
    assert read_image(tmp_path / "intact.jpg").shape == (512, 512, 3)
    path = tmp_path / "damaged.jpg"
    path.write_bytes(damage(intact, "random", offset))
    with pytest.raises(ImageDamagedError) as info:
        read_image(path)
    assert CORRUPT_RE.fullmatch(info.value.why), info.value.why


def _png_chunks(data: bytes) -> dict[bytes, int]:
    pos, found = 8, {}
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        found.setdefault(data[pos + 4:pos + 8], pos)
        pos += 12 + length
    return found


@pytest.mark.parametrize("where", ["signature", "IHDR", "IDAT start", "IDAT middle", "before IEND",
                                   "IEND crc"])
def test_truncated_png_is_damaged(astronaut_png, tmp_path, where):
    chunks = _png_chunks(astronaut_png)
    cut = {"signature": 12, "IHDR": chunks[b"IHDR"] + 10, "IDAT start": chunks[b"IDAT"] + 20,
           "IDAT middle": len(astronaut_png) // 2, "before IEND": chunks[b"IEND"],
           "IEND crc": len(astronaut_png) - 1}[where]
    path = tmp_path / "cut.png"
    path.write_bytes(astronaut_png[:cut])
    with pytest.raises(ImageDamagedError) as info:
        read_image(path)
    assert info.value.why == WHY_TRUNCATED


@pytest.mark.parametrize("at", [18, 5_000, 150_000, 300_000, -30])
def test_png_with_a_damaged_byte_fails_its_checksum(astronaut_png, tmp_path, at):
    at %= len(astronaut_png)
    pos = 8
    while True:  # the chunk holding byte `at`
        length = int.from_bytes(astronaut_png[pos:pos + 4], "big")
        if at < pos + 12 + length:
            break
        pos += 12 + length
    kind = astronaut_png[pos + 4:pos + 8].decode()
    data = bytearray(astronaut_png)
    data[at] ^= 0x40
    path = tmp_path / "damaged.png"
    path.write_bytes(bytes(data))
    with pytest.raises(ImageDamagedError) as info:
        read_image(path)
    assert info.value.why == WHY_CORRUPT_AT.format(
        offset=pos, problem=f"the checksum of the {kind} chunk does not match")


def test_truncated_and_damaged_photos_are_failures_of_their_own_kind_never_embedded(grace, tmp_path):
    folder = tmp_path / "photos"
    rows = good_images(folder)
    cut, broken = folder / "cut.jpg", folder / "broken.jpg"
    cut.write_bytes(grace[:len(grace) // 2])
    broken.write_bytes(damage(grace, "random", 30_000))
    rows += [{"path": str(cut), "identity": "p0", "group": "A"},
             {"path": str(broken), "identity": "p1", "group": "B"}]
    cache = tmp_path / "cache"
    es = extract(pd.DataFrame(rows), extractor=Toy(), cache=cache, batch_size=2, progress=False)
    assert list(es.path) == [r["path"] for r in rows[:6]]  # every intact image, nothing lost
    reasons = dict(zip(es.failures["path"], es.failures["reason"]))
    assert reasons[str(cut)] == REASON_DAMAGED.format(why=WHY_TRUNCATED)
    assert reasons[str(broken)].startswith("image file is damaged: corrupt data at byte ")
    # never cached as "no face found": a rerun checks them again and gives the same reasons
    again = extract(pd.DataFrame(rows), extractor=Toy(), cache=cache, batch_size=2, progress=False)
    assert again.failures.equals(es.failures)


def test_compare_refuses_a_truncated_photo_instead_of_scoring_it(grace, tmp_path, capsys):
    intact, cut = tmp_path / "grace.jpg", tmp_path / "cut.jpg"
    intact.write_bytes(grace)
    cut.write_bytes(grace[:len(grace) // 2])
    assert main(["compare", str(intact), str(cut), "--extractor", "dlib-resnet"]) == 2
    assert error_line(capsys) == "fairaudit: error: " + COMPARE_IMAGE.format(
        argument="IMG2", message=IMAGE_DAMAGED.format(path=str(cut), why=WHY_TRUNCATED, fix=FIX_DAMAGED))


# --- intact images read as before -----------------------------------------------------------
def _variants(grace: bytes, astronaut_png: bytes, folder: Path) -> dict[str, Path]:
    cv2 = pytest.importorskip("cv2")
    photo = np.asarray(Image.open(io.BytesIO(grace)))
    astro = np.asarray(Image.open(io.BytesIO(astronaut_png)))
    files = {"grace.jpg": grace, "astronaut.png": astronaut_png}
    paths = {}
    for name, data in files.items():
        paths[name] = folder / name
        paths[name].write_bytes(data)
    writes = {
        "progressive.jpg": (photo, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1]),
        "restarts.jpg": (photo, [cv2.IMWRITE_JPEG_RST_INTERVAL, 4]),
        "grey.jpg": (photo[:, :, 0], []),
        "astronaut.bmp": (astro, []),
        "astronaut.webp": (astro, [cv2.IMWRITE_WEBP_QUALITY, 80]),
    }
    for name, (pixels, params) in writes.items():
        paths[name] = folder / name
        bgr = pixels[:, :, ::-1] if pixels.ndim == 3 else pixels
        assert cv2.imwrite(str(paths[name]), np.ascontiguousarray(bgr), params)
    pil = Image.fromarray(astro)
    for name, im in {"palette.png": pil.convert("P"), "rgba.png": pil.convert("RGBA"),
                     "grey16.png": Image.fromarray((astro[:, :, 1].astype(np.uint16) * 256 + 3))}.items():
        paths[name] = folder / name
        im.save(paths[name])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees: OpenCV and read_image both turn it upright
    paths["rotated.jpg"] = folder / "rotated.jpg"
    Image.fromarray(astro[:, :300]).save(paths["rotated.jpg"], exif=exif, quality=90)
    return paths


VARIANTS = ["grace.jpg", "astronaut.png", "progressive.jpg", "restarts.jpg", "grey.jpg", "astronaut.bmp",
            "astronaut.webp", "palette.png", "rgba.png", "grey16.png", "rotated.jpg"]


@pytest.mark.parametrize("name", VARIANTS)
def test_intact_images_read_exactly_as_opencv_read_them(grace, astronaut_png, tmp_path, name):
    cv2 = pytest.importorskip("cv2")
    path = _variants(grace, astronaut_png, tmp_path)[name]
    expected = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    got = read_image(path)
    assert got.dtype == np.uint8 and got.flags.c_contiguous and got.flags.writeable
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), height=st.integers(1, 120), width=st.integers(1, 120),
       quality=st.integers(1, 100), subsampling=st.sampled_from([0, 1, 2]), progressive=st.booleans(),
       content=st.sampled_from(["noise", "black", "white", "stripes"]), cut=st.floats(0.05, 0.98))
def test_every_intact_jpeg_passes_the_checks_and_every_cut_one_fails(seed, height, width, quality, subsampling,
                                                                     progressive, content, cut):
    rng = np.random.default_rng(seed)
    pixels = {"noise": lambda: rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
              "black": lambda: np.zeros((height, width, 3), np.uint8),
              "white": lambda: np.full((height, width, 3), 255, np.uint8),
              "stripes": lambda: np.repeat((np.arange(width) % 2 * 255).astype(np.uint8)[None, :, None],
                                           height, 0).repeat(3, 2)}[content]()
    buf = io.BytesIO()
    try:
        Image.fromarray(pixels).save(buf, "JPEG", quality=quality, subsampling=subsampling,
                                     progressive=progressive)
    except OSError:  # libjpeg refuses a few tiny progressive images
        return
    data = buf.getvalue()
    from fairaudit.images.damage import _Damage
    from fairaudit.images.damage.jpeg_structure import _check_jpeg

    _check_jpeg(data)  # no false alarm on what an encoder writes
    with pytest.raises(_Damage) as info:
        _check_jpeg(data[:max(4, int(len(data) * cut))])
    assert info.value.why == WHY_TRUNCATED


# --- 2. decompression bombs -----------------------------------------------------------------------
def test_bomb_is_refused_from_its_header_without_allocating(bomb):
    assert os.path.getsize(bomb) < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(ImageTooLargeError) as info:
            read_image(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    why = WHY_TOO_MANY_PIXELS.format(width=20_000, height=20_000, pixels=400_000_000, limit=DEFAULT_MAX_PIXELS)
    assert info.value.why == why
    assert str(info.value) == IMAGE_TOO_LARGE.format(path=bomb, why=why, fix=FIX_TOO_LARGE)
    assert peak < 30_000_000  # decoding would take 1.2 GB of RGB


def test_default_limit_is_pillows():
    assert DEFAULT_MAX_PIXELS == Image.MAX_IMAGE_PIXELS == 89_478_485


@pytest.mark.parametrize("limit, refused", [(4095, True), (4096, False), (DEFAULT_MAX_PIXELS, False)])
def test_max_pixels_is_the_exact_limit(tmp_path, limit, refused):
    path = tmp_path / "64.png"
    Image.fromarray(np.full((64, 64, 3), 9, np.uint8)).save(path)
    if refused:
        with pytest.raises(ImageTooLargeError) as info:
            read_image(path, max_pixels=limit)
        assert info.value.why == WHY_TOO_MANY_PIXELS.format(width=64, height=64, pixels=4096, limit=limit)
    else:
        assert read_image(path, max_pixels=limit).shape == (64, 64, 3)


def test_max_pixels_alone_decides_whatever_pillows_global_limit(tmp_path, monkeypatch):
    path = tmp_path / "64.png"
    Image.fromarray(np.full((64, 64, 3), 9, np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1_000)  # Image.open would refuse 4,096 pixels
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no DecompressionBombWarning either
        assert read_image(path, max_pixels=10_000).shape == (64, 64, 3)


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.bmp"
    path.write_bytes(b"BM" + bytes((1 << 20) + 100))
    with pytest.raises(ImageTooLargeError) as info:
        read_image(path, max_pixels=1)
    assert info.value.why == WHY_TOO_MANY_BYTES.format(size=(1 << 20) + 102, per=8, limit=1)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "100", None])
def test_bad_max_pixels_is_refused(tmp_path, value):
    for call in (lambda: read_image(tmp_path / "x.png", max_pixels=value),
                 lambda: extract(pd.DataFrame(good_images(tmp_path)), extractor=Toy(), max_pixels=value),
                 lambda: compare("a.jpg", "b.jpg", extractor=Toy(), threshold=0.5, max_pixels=value)):
        with pytest.raises(FairauditInputError) as info:
            call()
        assert str(info.value) == BAD_MAX_PIXELS.format(value=value)


def test_extract_records_a_bomb_as_a_failure_and_keeps_every_other_image(bomb, tmp_path):
    rows = good_images(tmp_path / "photos") + [{"path": bomb, "identity": "p0", "group": "A"}]
    es = extract(pd.DataFrame(rows), extractor=Toy(), batch_size=2, progress=False)
    assert len(es) == 6
    assert es.failures["reason"].tolist() == [REASON_TOO_LARGE.format(why=WHY_TOO_MANY_PIXELS.format(
        width=20_000, height=20_000, pixels=400_000_000, limit=DEFAULT_MAX_PIXELS))]
    # the same limit, through the command (its parser may not have --max-pixels yet: the function
    # reads args.max_pixels when present, and add_image_options is how the parser gets it)
    parser = argparse.ArgumentParser()
    add_image_options(parser)
    assert parser.parse_args(["--max-pixels", "500"]).max_pixels == 500
    assert parser.parse_args([]).max_pixels is None


def test_compare_refuses_a_bomb_in_one_line(bomb, grace, tmp_path, capsys):
    photo = tmp_path / "grace.jpg"
    photo.write_bytes(grace)
    assert main(["compare", bomb, str(photo)]) == 2
    why = WHY_TOO_MANY_PIXELS.format(width=20_000, height=20_000, pixels=400_000_000, limit=DEFAULT_MAX_PIXELS)
    assert error_line(capsys) == "fairaudit: error: " + COMPARE_IMAGE.format(
        argument="IMG1", message=IMAGE_TOO_LARGE.format(path=bomb, why=why, fix=FIX_TOO_LARGE))


def _extract_args(**options) -> argparse.Namespace:
    args = dict(dataset=None, root=None, manifest=None, extractor="toy-hostile", out=None, cache=None,
                batch_size=32, scheduler=None, workers=None, max_pixels=None)
    args.update(options)
    return argparse.Namespace(**args)


@pytest.mark.parametrize("limit", [255, 256])
def test_extract_command_applies_max_pixels(toy_plugin, tmp_path, capsys, limit):
    rows = good_images(tmp_path / "photos")  # 16 x 16 = 256 pixels each
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    args = _extract_args(manifest=str(tmp_path / "m.csv"), out=str(tmp_path / "o.npz"), max_pixels=limit)
    if limit < 256:  # every image refused: the run says so in one line, and writes nothing
        with pytest.raises(FairauditInputError, match=r"^extract got 0 embedding\(s\) of 0 identity\(ies\) "
                                                      r"from 6 image\(s\) \(6 failure\(s\); reasons: 'image too large"):
            cmd_extract(args)
        assert not (tmp_path / "o.npz").exists()
    else:
        assert cmd_extract(args) == 0
        assert len(EmbeddingSet.load(tmp_path / "o.npz")) == 6


@pytest.mark.parametrize("value", [0, -5])
def test_extract_command_refuses_a_bad_max_pixels_before_the_work(toy_plugin, tmp_path, value):
    args = _extract_args(manifest=str(tmp_path / "nowhere.csv"), out=str(tmp_path / "o.npz"), max_pixels=value)
    with pytest.raises(FairauditInputError) as info:
        cmd_extract(args)
    assert str(info.value) == BAD_MAX_PIXELS_OPTION.format(value=value)


# --- 3. damaged cache shards -------------------------------------------------------------------
def _rewrite(shard: Path, **changes) -> None:
    with np.load(shard) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    with open(shard, "wb") as fh:
        np.savez(fh, **arrays)


SHARD_DAMAGE = {
    "nan": (lambda s, n: _rewrite(s, embeddings=np.full((n, 3), np.nan, np.float32)),
            "{n} of its {n} embeddings contain NaN or inf"),
    "inf": (lambda s, n: _rewrite(s, embeddings=np.full((n, 3), np.inf, np.float32)),
            "{n} of its {n} embeddings contain NaN or inf"),
    "zero rows": (lambda s, n: _rewrite(s, embeddings=np.zeros((n, 3), np.float32)),
                  "some of its embeddings are all zero"),
    "wrong dim": (lambda s, n: _rewrite(s, embeddings=np.ones((n, 5), np.float32)),
                  "its embeddings have 5 dimensions, not 3"),
    "int keys": (lambda s, n: _rewrite(s, keys=np.arange(n)),
                 "its keys are not a list of strings (dtype int64, shape ({n},))"),
    "text embeddings": (lambda s, n: _rewrite(s, embeddings=np.full((n, 3), "x")),
                        "its embeddings have dtype <U1, not float"),
    "missing array": (lambda s, n: np.savez(s, keys=np.array(["a"] * n)), "'embeddings is not a file in the archive'"),
    "garbage": (lambda s, n: s.write_bytes(b"PK\x03\x04 damaged"), "File is not a zip file"),
}


@pytest.mark.parametrize("kind", list(SHARD_DAMAGE))
def test_damaged_shard_is_named_moved_aside_and_recomputed_once(tmp_path, kind):
    rows = good_images(tmp_path / "photos")
    manifest = pd.DataFrame(rows)
    cache = tmp_path / "cache"
    clean = extract(manifest, extractor=Toy(), cache=cache, batch_size=2, progress=False)
    (ns,) = [p for p in cache.iterdir() if p.is_dir()]
    shard = ns / "shard-000001.npz"
    with np.load(shard) as z:
        n = len(z["keys"])
    spoil, error = SHARD_DAMAGE[kind]
    spoil(shard, n)

    Toy.calls = 0
    with pytest.warns(RuntimeWarning) as record:
        first = extract(manifest, extractor=Toy(), cache=cache, batch_size=2, progress=False)
    assert [str(w.message) for w in record] == [CACHE_SHARD_DAMAGED.format(
        path=str(shard), error=error.format(n=n), moved=str(ns / "damaged" / "shard-000001.npz"))]
    assert Toy.calls == n  # only the images of that shard
    assert (ns / "damaged" / "shard-000001.npz").exists() and not shard.exists()

    Toy.calls = 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the second rerun is silent
        second = extract(manifest, extractor=Toy(), cache=cache, batch_size=2, progress=False)
    assert Toy.calls == 0
    for es in (first, second):
        np.testing.assert_array_equal(es.embeddings, clean.embeddings)
        np.testing.assert_array_equal(es.identity, clean.identity)
        assert list(es.path) == list(clean.path)
        pd.testing.assert_frame_equal(es.attributes, clean.attributes)
        assert es.failures.equals(clean.failures)


def test_a_cache_that_cannot_be_written_mid_run_loses_nothing(tmp_path, monkeypatch):
    from fairaudit.images import cache as extraction  # the shard store writes with atomic_write

    rows = good_images(tmp_path / "photos")
    real = extraction.atomic_write
    calls = {"n": 0}

    def failing(path):
        calls["n"] += 1
        if calls["n"] > 1:  # meta.json and the first shard are written, then the disk is full
            raise OSError(28, "No space left on device")
        return real(path)

    monkeypatch.setattr(extraction, "atomic_write", failing)
    with pytest.warns(RuntimeWarning, match=r"cannot write the cache shard .*No space left on device"):
        es = extract(pd.DataFrame(rows), extractor=Toy(), cache=tmp_path / "cache", batch_size=2, progress=False)
    assert len(es) == 6


# --- 4. unwritable outputs -------------------------------------------------------------------------
@pytest.fixture
def manifest_csv(tmp_path):
    path = tmp_path / "m.csv"
    pd.DataFrame(good_images(tmp_path / "photos")).to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("option, where", [("--out", "under a file"), ("--out", "a directory"),
                                           ("--cache", "under a file"), ("--cache", "a file")])
def test_unwritable_out_or_cache_is_refused_before_any_image_is_read(toy_plugin, manifest_csv, tmp_path, capsys,
                                                                     option, where):
    regular = tmp_path / "regular"
    regular.write_text("x")
    (tmp_path / "dir.npz").mkdir()
    bad = {"under a file": str(regular / ("x.npz" if option == "--out" else "cache")),
           "a directory": str(tmp_path / "dir.npz"), "a file": str(regular)}[where]
    argv = ["extract", "--manifest", manifest_csv, "--extractor", "toy-hostile", "--out",
            bad if option == "--out" else str(tmp_path / "ok.npz")]
    if option == "--cache":
        argv += ["--cache", bad]
    assert main(argv) == 2
    with pytest.raises(OutputPathError) as expected:
        check_output(bad, name=option, directory=option == "--cache")
    assert error_line(capsys) == f"fairaudit: error: {expected.value}"
    assert Toy.calls == 0  # no image was read: the check came first


def test_a_final_write_that_fails_saves_the_set_elsewhere(toy_plugin, manifest_csv, tmp_path, capsys, monkeypatch):
    from fairaudit.common.files import OUTPUT_SAVED_ELSEWHERE

    out = tmp_path / "pop.npz"
    real = EmbeddingSet.save

    def save(self, path):
        if Path(path) == out:
            raise OSError(28, "No space left on device")
        return real(self, path)

    monkeypatch.setattr(EmbeddingSet, "save", save)
    monkeypatch.chdir(tmp_path)
    assert main(["extract", "--manifest", manifest_csv, "--extractor", "toy-hostile", "--out", str(out)]) == 2
    line = error_line(capsys)
    (rescued,) = tmp_path.glob("fairaudit-rescued-*-pop.npz")
    assert line == "fairaudit: error: " + OUTPUT_SAVED_ELSEWHERE.format(
        name="--out", path=str(out), why="No space left on device", fallback=str(rescued))
    saved = EmbeddingSet.load(rescued)
    assert len(saved) == 6 and Toy.calls == 6  # every image embedded once, none of it lost


# --- 5. every other bad input -------------------------------------------------------------------------
def _write_manifest(folder: str, text: str | bytes) -> str:
    path = Path(folder) / "bad.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return str(path)


BAD_EXTRACT = {
    "no source": (lambda t, m: ["--out", f"{t}/o.npz"], lambda t, m: EXTRACT_SOURCE),
    "two sources": (lambda t, m: ["--manifest", m, "--dataset", "folder", "--out", f"{t}/o.npz"],
                    lambda t, m: EXTRACT_SOURCE),
    "dataset without root": (lambda t, m: ["--dataset", "folder", "--out", f"{t}/o.npz"],
                             lambda t, m: DATASET_NEEDS_ROOT.format(name="folder")),
    "manifest missing": (lambda t, m: ["--manifest", f"{t}/nowhere.csv", "--out", f"{t}/o.npz"],
                         lambda t, m: MANIFEST_NOT_FOUND.format(path=f"{t}/nowhere.csv")),
    "batch size 0": (lambda t, m: ["--manifest", m, "--out", f"{t}/o.npz", "--batch-size", "0"],
                     lambda t, m: BAD_BATCH_SIZE_OPTION.format(value=0)),
    "batch size -1": (lambda t, m: ["--manifest", m, "--out", f"{t}/o.npz", "--batch-size", "-1"],
                      lambda t, m: BAD_BATCH_SIZE_OPTION.format(value=-1)),
    "out suffix": (lambda t, m: ["--manifest", m, "--out", f"{t}/o.csv"],
                   lambda t, m: BAD_OUT.format(path=f"{t}/o.csv")),
    "unknown extractor": (lambda t, m: ["--manifest", m, "--out", f"{t}/o.npz", "--extractor", "nope"],
                          lambda t, m: plugins.UNKNOWN_NAME.format(
                              argument="--extractor", value="nope", kind="extractor",
                              available=", ".join(plugins.available("extractor")))),
    "missing column": (lambda t, m: ["--manifest", _write_manifest(t, "path,group\na.jpg,A\n"), "--out",
                                     f"{t}/o.npz"],
                       lambda t, m: CSV_MISSING_COLUMN.format(name="root", path=f"{t}/bad.csv", column="identity",
                                                              columns=["path", "group"], extra="")),
    "empty cell": (lambda t, m: ["--manifest", _write_manifest(t, "path,identity,group\na.jpg,,A\n"), "--out",
                                 f"{t}/o.npz"],
                   lambda t, m: CSV_MISSING_VALUES.format(name="root", path=f"{t}/bad.csv", count=1,
                                                          column="identity", lines=[2])),
    "duplicate column": (lambda t, m: ["--manifest", _write_manifest(t, "path,identity,g,g\na.jpg,p,A,B\n"),
                                       "--out", f"{t}/o.npz"],
                         lambda t, m: CSV_DUPLICATE_COLUMNS.format(name="root", path=f"{t}/bad.csv", columns=["g"])),
    "extra field": (lambda t, m: ["--manifest", _write_manifest(t, "path,identity\na.jpg,p,extra\n"), "--out",
                                  f"{t}/o.npz"],
                    lambda t, m: CSV_UNREADABLE.format(name="root", path=f"{t}/bad.csv",
                                                       problem="line 2 has 3 fields, the header 2")),
    "empty manifest": (lambda t, m: ["--manifest", _write_manifest(t, ""), "--out", f"{t}/o.npz"],
                       lambda t, m: CSV_UNREADABLE.format(name="root", path=f"{t}/bad.csv",
                                                          problem="the file is empty")),
    "binary manifest": (lambda t, m: ["--manifest", _write_manifest(t, b"\x89PNG\r\n\x1a\n\x00\xff"), "--out",
                                      f"{t}/o.npz"],
                        lambda t, m: CSV_UNREADABLE.format(name="root", path=f"{t}/bad.csv",
                                                           problem="it is not UTF-8 text: byte 0 is b'\\x89'")),
}


@pytest.mark.parametrize("case", list(BAD_EXTRACT))
def test_bad_extract_input_ends_in_one_line_before_the_work(toy_plugin, manifest_csv, tmp_path, capsys, case):
    argv, message = BAD_EXTRACT[case]
    t = str(tmp_path)
    args = argv(t, manifest_csv)
    if "--extractor" not in args:
        args += ["--extractor", "toy-hostile"]
    assert main(["extract", *args]) == 2
    assert error_line(capsys) == f"fairaudit: error: {message(t, manifest_csv)}"
    assert Toy.calls == 0 and not (tmp_path / "o.npz").exists()


def test_every_bad_image_of_a_run_is_a_failure_row_with_its_reason(toy_plugin, grace, bomb, tmp_path, capsys):
    folder = tmp_path / "photos"
    rows = good_images(folder)
    bad = {
        "missing.jpg": (None, REASON_UNREADABLE.format(why=WHY_MISSING)),
        "folder.jpg": ("dir", REASON_UNREADABLE.format(why=WHY_DIRECTORY)),
        "empty.jpg": (b"", REASON_UNREADABLE.format(why=WHY_EMPTY)),
        "text.jpg": (b"this is not a photo\n", REASON_UNREADABLE.format(why=WHY_NOT_IMAGE)),
        "cut.jpg": (grace[:40_000], REASON_DAMAGED.format(why=WHY_TRUNCATED)),
        "flat.png": ("flat", REASON_NO_FACE),
        "pipe.jpg": ("fifo", REASON_UNREADABLE.format(why=WHY_NOT_REGULAR)),
    }
    for name, (content, _) in bad.items():
        path = folder / name
        if content == "dir":
            path.mkdir()
        elif content == "flat":
            Image.fromarray(np.full((16, 16, 3), 128, np.uint8)).save(path)
        elif content == "fifo":
            if not hasattr(os, "mkfifo"):
                continue
            os.mkfifo(path)  # reading it would block forever
        elif content is not None:
            path.write_bytes(content)
        rows.append({"path": str(path), "identity": "p0", "group": "A"})
    rows.append({"path": bomb, "identity": "p1", "group": "B"})
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    out = tmp_path / "pop.npz"
    assert main(["extract", "--manifest", str(tmp_path / "m.csv"), "--extractor", "toy-hostile",
                 "--out", str(out), "--cache", str(tmp_path / "cache"), "--batch-size", "3"]) == 0
    text = capsys.readouterr().out
    es = EmbeddingSet.load(out)
    assert len(es) == 6
    expected = {str(folder / name): reason for name, (_, reason) in bad.items()
                if (folder / name).exists() or name == "missing.jpg"}
    expected[bomb] = REASON_TOO_LARGE.format(why=WHY_TOO_MANY_PIXELS.format(
        width=20_000, height=20_000, pixels=400_000_000, limit=DEFAULT_MAX_PIXELS))
    assert dict(zip(es.failures["path"], es.failures["reason"])) == expected
    assert f"6 embedded, {len(expected)} failures" in text


BAD_COMPARE = {
    "missing": (lambda t: f"{t}/nowhere.jpg", lambda p: IMAGE_UNREADABLE.format(path=p, why=WHY_MISSING,
                                                                                 fix=FIX_MISSING)),
    "directory": (lambda t: t, lambda p: IMAGE_UNREADABLE.format(path=p, why=WHY_DIRECTORY, fix=FIX_MISSING)),
    "empty": (lambda t: _file(t, "e.jpg", b""), lambda p: IMAGE_UNREADABLE.format(path=p, why=WHY_EMPTY,
                                                                                  fix=FIX_UNDECODABLE)),
    "text": (lambda t: _file(t, "t.jpg", b"GIF? no: text"), lambda p: IMAGE_UNREADABLE.format(
        path=p, why=WHY_NOT_IMAGE, fix=FIX_UNDECODABLE)),
}


def _file(folder: str, name: str, data: bytes) -> str:
    path = Path(folder) / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("case", list(BAD_COMPARE))
@pytest.mark.parametrize("argument", ["IMG1", "IMG2"])
def test_bad_compare_image_ends_in_one_line_naming_the_argument(toy_plugin, grace, tmp_path, capsys, case,
                                                                argument):
    photo = _file(str(tmp_path), "grace.jpg", grace)
    path_of, message = BAD_COMPARE[case]
    bad = path_of(str(tmp_path))
    pair = [bad, photo] if argument == "IMG1" else [photo, bad]
    assert main(["compare", *pair, "--extractor", "toy-hostile", "--threshold", "0.5"]) == 2
    assert error_line(capsys) == "fairaudit: error: " + COMPARE_IMAGE.format(argument=argument,
                                                                            message=message(bad))
    assert Toy.calls == 0  # both files are checked before any detection


def test_compare_with_an_unknown_extractor_or_a_bad_threshold_ends_in_one_line(grace, tmp_path, capsys):
    photo = _file(str(tmp_path), "grace.jpg", grace)
    assert main(["compare", photo, photo, "--extractor", "nope"]) == 2
    assert error_line(capsys).startswith("fairaudit: error: extractor='nope' is not a registered extractor")
    assert main(["compare", photo, photo, "--threshold", "nan", "--extractor", "dlib-resnet"]) == 2
    assert error_line(capsys) == "fairaudit: error: threshold=nan must be a number in [-1, 1]. Fix: pass e.g. threshold=0.91."


@pytest.mark.parametrize("path, why", [("a\0b.jpg", "the path contains a NUL character")])
def test_python_extract_turns_an_impossible_path_into_a_failure_row(tmp_path, path, why):
    rows = good_images(tmp_path / "photos") + [{"path": path, "identity": "p0", "group": "A"}]
    es = extract(pd.DataFrame(rows), extractor=Toy(), progress=False)
    assert es.failures["reason"].tolist() == [REASON_UNREADABLE.format(why=why)]


def test_python_extract_of_a_csv_lists_missing_images_as_failures(tmp_path):
    rows = good_images(tmp_path / "photos") + [{"path": str(tmp_path / "gone.jpg"), "identity": "p2",
                                                "group": "A"}]
    pd.DataFrame(rows).to_csv(tmp_path / "m.csv", index=False)
    es = extract(tmp_path / "m.csv", extractor=Toy(), progress=False)
    assert len(es) == 6
    assert es.failures["reason"].tolist() == [REASON_UNREADABLE.format(why=WHY_MISSING)]
