"""Dataset loaders, manifest validation and subsets (fairaudit.datasets)."""

from __future__ import annotations

import os
import re
import struct
import zlib

import numpy as np
import pandas as pd
import pytest

from fairaudit import FairauditInputError, errors, hookimpl
from fairaudit import plugins
from fairaudit.images import datasets as ds
from fairaudit.images.datasets import (
    load_csv,
    load_dataset,
    load_folder,
    load_rfw,
    manifest_subset,
    validate_manifest,
)


# --- tiny files -------------------------------------------------------------------
def _png_bytes(value: int = 0) -> bytes:
    """A valid 2x2 grayscale PNG, written with zlib only."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes([value % 256] * 2) for _ in range(2))
    header = struct.pack(">IIBBBBB", 2, 2, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def _image(path) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(_png_bytes(len(str(path))))
    return str(path)


def _exact(message: str) -> str:
    return "^" + re.escape(message) + "$"


def _folder_tree(root, layout: dict[str, list[str]], attributes: str | None) -> None:
    for ident, files in layout.items():
        os.makedirs(root / ident, exist_ok=True)
        for name in files:
            _image(root / ident / name)
    if attributes is not None:
        (root / "attributes.csv").write_text(attributes)


# --- folder ----------------------------------------------------------------------------
def test_folder_manifest_lists_images_sorted_by_identity_then_file(tmp_path):
    root = tmp_path / "faces"
    _folder_tree(root, {"b": ["2.png", "1.JPG"], "a": ["x.webp", "c.Jpeg", "b.bmp"]},
                 "identity,gender,ethnicity\na,M,A\nb,H,N\n")
    (root / "a" / "notes.txt").write_text("not an image")
    (root / "a" / ".hidden.png").write_bytes(_png_bytes())
    _image(root / "a" / "nested" / "deep.png")
    _image(root / ".cache" / "x.png")

    m = load_folder(root)

    assert list(m.columns) == ["path", "identity", "gender", "ethnicity"]
    assert m["path"].tolist() == [str(root / "a" / f) for f in ("b.bmp", "c.Jpeg", "x.webp")] + [
        str(root / "b" / f) for f in ("1.JPG", "2.png")]
    assert m["identity"].tolist() == ["a", "a", "a", "b", "b"]
    assert m["gender"].tolist() == ["M", "M", "M", "H", "H"]
    assert m["ethnicity"].tolist() == ["A", "A", "A", "N", "N"]
    assert all(os.path.isabs(p) for p in m["path"])
    assert m.attrs["unused_identities"].empty and m.attrs["empty_identities"].empty


def test_folder_identity_without_attribute_row_is_an_error_listing_it(tmp_path):
    _folder_tree(tmp_path, {"a": ["1.png"], "b": ["1.png"], "c": ["1.png"]}, "identity,gender\na,M\n")
    expected = ds.FOLDER_UNLABELLED.format(
        count=2, root=str(tmp_path), path=str(tmp_path / "attributes.csv"),
        identities=["b", "c"], columns=["identity", "gender"])
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        load_folder(tmp_path)


def test_folder_attribute_rows_without_folder_go_to_unused_identities_with_a_warning(tmp_path):
    _folder_tree(tmp_path, {"a": ["1.png"], "e": []}, "identity,gender\na,M\nz,H\ne,H\ny,M\n")
    with pytest.warns(UserWarning, match="2 identity/identities of the attribute table"):
        m = load_folder(tmp_path)
    assert m["identity"].tolist() == ["a"]
    unused = m.attrs["unused_identities"]
    assert unused["identity"].tolist() == ["z", "y"]
    assert unused["gender"].tolist() == ["H", "M"]
    assert m.attrs["empty_identities"]["identity"].tolist() == ["e"]


def test_folder_reads_attributes_from_the_given_csv_or_dataframe(tmp_path):
    _folder_tree(tmp_path / "faces", {"007": ["1.png"], "NA": ["1.png"]}, None)
    labels = tmp_path / "labels.csv"
    labels.write_text("identity,gender\n007,M\nNA,NA\n")
    m = load_folder(tmp_path / "faces", attributes=labels)
    # identities and labels stay text: no int parsing of "007", no NaN for "NA"
    assert m["identity"].tolist() == ["007", "NA"]
    assert m["gender"].tolist() == ["M", "NA"]
    frame = pd.DataFrame({"identity": ["007", "NA"], "gender": ["M", "H"]})
    assert load_folder(tmp_path / "faces", attributes=frame)["gender"].tolist() == ["M", "H"]


def test_folder_missing_attribute_table_is_an_error(tmp_path):
    _folder_tree(tmp_path, {"a": ["1.png"]}, None)
    with pytest.raises(FairauditInputError, match="attributes=.*the file does not exist"):
        load_folder(tmp_path)


def test_folder_attribute_table_problems_are_errors(tmp_path):
    _folder_tree(tmp_path, {"a": ["1.png"]}, "identity,gender\na,\n")
    path = str(tmp_path / "attributes.csv")
    with pytest.raises(FairauditInputError, match=_exact(ds.CSV_MISSING_VALUES.format(
            name="attributes", path=path, count=1, column="gender", lines=[2]))):
        load_folder(tmp_path)
    (tmp_path / "attributes.csv").write_text("identity,gender\na,M\na,H\n")
    with pytest.raises(FairauditInputError, match=_exact(ds.CSV_DUPLICATE_IDENTITY.format(
            path=path, count=1, identities=["a"]))):
        load_folder(tmp_path)
    (tmp_path / "attributes.csv").write_text("name,gender\na,M\n")
    with pytest.raises(FairauditInputError, match="lacks the column 'identity'"):
        load_folder(tmp_path)


def test_folder_root_that_does_not_exist_is_an_error(tmp_path):
    with pytest.raises(FairauditInputError, match=r"root=.* does not exist"):
        load_folder(tmp_path / "nowhere")


# --- csv ---------------------------------------------------------------------------------
def test_csv_manifest_keeps_file_order_and_resolves_paths_from_its_folder(tmp_path):
    _image(tmp_path / "imgs" / "b.png")
    _image(tmp_path / "imgs" / "a.png")
    absolute = _image(tmp_path / "elsewhere" / "c.png")
    (tmp_path / "manifest.csv").write_text(
        f"path,identity,gender\nimgs/b.png,2,H\nimgs/a.png,1,M\n{absolute},3,M\n")
    for root in (tmp_path, tmp_path / "manifest.csv"):
        m = load_csv(root)
        assert m["path"].tolist() == [str(tmp_path / "imgs" / "b.png"), str(tmp_path / "imgs" / "a.png"),
                                      absolute]
        assert m["identity"].tolist() == ["2", "1", "3"]
        assert m["gender"].tolist() == ["H", "M", "M"]
        assert "missing" not in m.attrs and "pairs" not in m.attrs


def test_csv_missing_image_is_an_error_listing_the_first_paths(tmp_path):
    _image(tmp_path / "a.png")
    (tmp_path / "manifest.csv").write_text("path,identity,g\na.png,1,x\nb.png,2,x\nc.png,3,y\n")
    expected = ds.MISSING_FILES.format(
        count=2, source=repr(str(tmp_path / "manifest.csv")),
        paths=[str(tmp_path / "b.png"), str(tmp_path / "c.png")])
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        load_csv(tmp_path)


def test_csv_missing_report_lists_missing_images_and_their_pairs(tmp_path):
    for name in ("a.png", "b.png", "d.png"):
        _image(tmp_path / name)
    (tmp_path / "manifest.csv").write_text("path,identity,g\na.png,1,x\nb.png,1,x\nc.png,2,y\nd.png,2,y\n")
    (tmp_path / "pairs.csv").write_text(
        "path_a,path_b,genuine,fold\na.png,b.png,true,1\nc.png,d.png,1,1\na.png,d.png,no,2\n")
    m = load_csv(tmp_path, pairs=tmp_path / "pairs.csv", missing="report")
    p = str(tmp_path)
    assert m["path"].tolist() == [f"{p}/a.png", f"{p}/b.png", f"{p}/d.png"]
    assert m.attrs["missing"]["path"].tolist() == [f"{p}/c.png"]
    assert m.attrs["missing"]["identity"].tolist() == ["2"]
    pairs = m.attrs["pairs"]
    assert pairs["path_a"].tolist() == [f"{p}/a.png", f"{p}/a.png"]
    assert pairs["path_b"].tolist() == [f"{p}/b.png", f"{p}/d.png"]
    assert pairs["genuine"].tolist() == [True, False]
    assert pairs["genuine"].dtype == bool
    assert pairs["fold"].tolist() == [1, 2]
    assert m.attrs["missing_pairs"]["path_a"].tolist() == [f"{p}/c.png"]


def test_csv_pairs_with_unreadable_genuine_value_is_an_error(tmp_path):
    _image(tmp_path / "a.png")
    _image(tmp_path / "b.png")
    (tmp_path / "manifest.csv").write_text("path,identity\na.png,1\nb.png,1\n")
    (tmp_path / "pairs.csv").write_text("path_a,path_b,genuine\na.png,b.png,maybe\n")
    expected = ds.BAD_GENUINE_VALUE.format(path=str(tmp_path / "pairs.csv"), line=2, value="maybe")
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        load_csv(tmp_path, pairs=tmp_path / "pairs.csv")


def test_csv_bad_missing_option_is_an_error(tmp_path):
    with pytest.raises(FairauditInputError, match=_exact(ds.BAD_MISSING.format(
            value="skip", modes=["error", "report"]))):
        load_csv(tmp_path, missing="skip")


# --- RFW ---------------------------------------------------------------------------------
def _rfw(root, pairs: dict[str, list[str]], *, flat: bool = False, skip: tuple[str, ...] = (),
         data: str = "test/data", txts: str = "test/txts"):
    """Write an RFW-like tree: the pairs files and every image they reference."""
    written = set()
    for race, lines in pairs.items():
        folder = root / txts if flat else root / txts / race
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{race}_pairs.txt").write_text("".join(line + "\n" for line in lines))
        for line in lines:
            f = line.split()
            refs = ([(f[0], f[1]), (f[0], f[2])] if len(f) == 3
                    else [(f[0], f[1]), (f[2], f[3])] if len(f) == 4 else [])
            for name, idx in refs:
                if idx.isdigit():
                    rel = f"{race}/{name}/{name}_{int(idx):04d}.jpg"
                    if rel not in skip and rel not in written:
                        _image(root / data / rel)
                        written.add(rel)
    return root


def _img(root, race, name, idx, data="test/data"):
    return str(root / data / race / name / f"{name}_{idx:04d}.jpg")


def test_rfw_reads_genuine_and_impostor_lines_into_pairs_and_manifest(tmp_path):
    _rfw(tmp_path, {
        "African": ["m.b\t1\t2", "m.a\t3\tm.b\t1"],
        "Asian": ["m.c\t2\t1", "m.c\t1\tm.d\t1"],
    })
    m = load_rfw(tmp_path, races=["Asian", "African"])
    r = tmp_path
    assert m["path"].tolist() == [_img(r, "Asian", "m.c", 1), _img(r, "Asian", "m.c", 2),
                                  _img(r, "Asian", "m.d", 1), _img(r, "African", "m.a", 3),
                                  _img(r, "African", "m.b", 1), _img(r, "African", "m.b", 2)]
    assert m["identity"].tolist() == ["m.c", "m.c", "m.d", "m.a", "m.b", "m.b"]
    assert m["ethnicity"].tolist() == ["Asian"] * 3 + ["African"] * 3
    pairs = m.attrs["pairs"]
    assert list(pairs.columns) == ["path_a", "path_b", "genuine", "fold"]
    assert pairs["path_a"].tolist() == [_img(r, "Asian", "m.c", 2), _img(r, "Asian", "m.c", 1),
                                        _img(r, "African", "m.b", 1), _img(r, "African", "m.a", 3)]
    assert pairs["path_b"].tolist() == [_img(r, "Asian", "m.c", 1), _img(r, "Asian", "m.d", 1),
                                        _img(r, "African", "m.b", 2), _img(r, "African", "m.b", 1)]
    assert pairs["genuine"].tolist() == [True, False, True, False]
    assert pairs["fold"].tolist() == [1, 1, 1, 1]


def test_rfw_default_races_are_the_four_folders(tmp_path):
    _rfw(tmp_path, {race: [f"m.{race}\t1\t2"] for race in ds.RFW_RACES})
    m = load_rfw(tmp_path)
    assert m["ethnicity"].unique().tolist() == ["African", "Asian", "Caucasian", "Indian"]
    assert len(m.attrs["pairs"]) == 4


def test_rfw_folds_are_consecutive_blocks_of_600_lines(tmp_path):
    lines = [f"m.g{k % 7}\t1\t2" if (k // 300) % 2 == 0 else f"m.g{k % 7}\t1\tm.i{k % 5}\t1"
             for k in range(1300)]
    _rfw(tmp_path, {"Indian": lines})
    pairs = load_rfw(tmp_path, races="Indian").attrs["pairs"]
    assert pairs["fold"].tolist() == [1] * 600 + [2] * 600 + [3] * 100
    assert pairs["genuine"].tolist() == [(k // 300) % 2 == 0 for k in range(1300)]
    assert pairs.groupby("fold")["genuine"].sum().tolist() == [300, 300, 100]
    small = load_rfw(tmp_path, races="Indian", fold_size=500).attrs["pairs"]
    assert small["fold"].tolist() == [1] * 500 + [2] * 500 + [3] * 300


def test_rfw_images_are_listed_once_and_pairs_exactly_as_written(tmp_path):
    lines = ["m.a\t1\t2", "m.a\t1\t2", "m.a\t2\t1", "m.a\t1\tm.b\t1", "m.b\t1\tm.a\t1", "", "m.a  1  2"]
    _rfw(tmp_path, {"Caucasian": lines})
    m = load_rfw(tmp_path, races=["Caucasian"])
    r = tmp_path
    a1, a2, b1 = (_img(r, "Caucasian", "m.a", 1), _img(r, "Caucasian", "m.a", 2),
                  _img(r, "Caucasian", "m.b", 1))
    assert m["path"].tolist() == [a1, a2, b1]
    pairs = m.attrs["pairs"]
    assert list(zip(pairs["path_a"], pairs["path_b"], pairs["genuine"])) == [
        (a1, a2, True), (a1, a2, True), (a2, a1, True), (a1, b1, False), (b1, a1, False), (a1, a2, True)]


@pytest.mark.parametrize("content, problem", [
    ("m.a\t1", ds._RFW_FIELDS.format(n=2)),
    ("m.a\t1\tm.b\t2\tx", ds._RFW_FIELDS.format(n=5)),
    ("m.a\tone\t2", ds._RFW_INDEX.format(value="one")),
    ("m.a\t1\tm.b\t-2", ds._RFW_INDEX.format(value="-2")),
    ("m.a\t3\t3", ds._RFW_SAME_IMAGE.format(index=3)),
    ("m.a\t1\tm.a\t2", ds._RFW_SAME_NAME.format(name="m.a")),
])
def test_rfw_bad_line_error_gives_file_line_number_and_content(tmp_path, content, problem):
    _rfw(tmp_path, {"African": ["m.a\t1\t2", "", content]})
    path = str(tmp_path / "test" / "txts" / "African" / "African_pairs.txt")
    expected = ds.RFW_BAD_LINE.format(path=path, line=3, content=content, problem=problem)
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        load_rfw(tmp_path, races="African")


def test_rfw_accepts_the_test_folder_and_a_flat_pairs_folder(tmp_path):
    _rfw(tmp_path, {"Asian": ["m.a\t1\t2"]}, flat=True, txts="lists")
    expected = [_img(tmp_path, "Asian", "m.a", 1), _img(tmp_path, "Asian", "m.a", 2)]
    m = load_rfw(tmp_path / "test", races="Asian", pairs_dir=tmp_path / "lists")
    assert m["path"].tolist() == expected
    m = load_rfw(tmp_path, races="Asian", pairs_dir=tmp_path / "lists")
    assert m["path"].tolist() == expected


def test_rfw_data_dir_option_points_at_another_copy_of_the_images(tmp_path):
    _rfw(tmp_path, {"Asian": ["m.a\t1\t2"]}, data="test_aligned/data")
    m = load_rfw(tmp_path, races="Asian", data_dir=tmp_path / "test_aligned" / "data")
    assert m["path"].tolist() == [_img(tmp_path, "Asian", "m.a", k, data="test_aligned/data") for k in (1, 2)]


def test_rfw_missing_pairs_file_lists_where_it_looked(tmp_path):
    _rfw(tmp_path, {"African": ["m.a\t1\t2"]})
    txts = tmp_path / "test" / "txts"
    expected = ds.RFW_NO_PAIRS_FILE.format(race="Asian", candidates=[
        str(txts / "Asian" / "Asian_pairs.txt"), str(txts / "Asian_pairs.txt")])
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        load_rfw(tmp_path)  # default races: all four


def test_rfw_missing_image_is_an_error_or_reported_with_its_pairs(tmp_path):
    skip = ("African/m.b/m.b_0002.jpg",)
    _rfw(tmp_path, {"African": ["m.a\t1\t2", "m.b\t1\t2", "m.a\t1\tm.b\t2"]}, skip=skip)
    gone = _img(tmp_path, "African", "m.b", 2)
    with pytest.raises(FairauditInputError, match=re.escape(f"1 image(s) listed by the RFW pairs files")
                       + ".*" + re.escape(repr([gone]))):
        load_rfw(tmp_path, races="African")
    m = load_rfw(tmp_path, races="African", missing="report")
    assert gone not in m["path"].tolist() and len(m) == 3
    assert m.attrs["missing"]["path"].tolist() == [gone]
    assert m.attrs["missing"]["ethnicity"].tolist() == ["African"]
    assert m.attrs["pairs"]["genuine"].tolist() == [True]
    assert m.attrs["missing_pairs"]["path_b"].tolist() == [gone, gone]
    assert m.attrs["missing_pairs"]["fold"].tolist() == [1, 1]


def test_rfw_root_without_test_data_is_an_error(tmp_path):
    expected = ds.RFW_NO_TEST_SET.format(path=str(tmp_path), what="data_dir",
                                         looked=str(tmp_path / "data"))
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        load_rfw(tmp_path)


# --- validate_manifest ----------------------------------------------------------------------
def _manifest(**extra) -> pd.DataFrame:
    data = {"path": ["/d/a1.png", "/d/a2.png", "/d/b1.png", "/d/c1.png"],
            "identity": ["a", "a", "b", "c"],
            "gender": ["M", "M", "H", "H"]}
    data.update(extra)
    return pd.DataFrame(data)


def test_validate_manifest_accepts_object_and_string_dtypes():
    m = _manifest()
    assert validate_manifest(m) is m
    assert validate_manifest(m.astype(object)) is not None
    assert validate_manifest(m.astype("string")) is not None


@pytest.mark.parametrize("make, expected", [
    (lambda m: m.drop(columns="identity"),
     ds.MANIFEST_MISSING_COLUMN.format(column="identity", columns=["path", "gender"])),
    (lambda m: m.iloc[:0], ds.MANIFEST_EMPTY),
    (lambda m: m.assign(gender=["M", None, "H", None]),
     ds.MANIFEST_MISSING_VALUES.format(column="gender", count=2, rows=[1, 3])),
    (lambda m: m.assign(age=[30, 30, 40, 50]),
     ds.MANIFEST_NOT_STRINGS.format(column="age", dtype="int64", row=0, value=30)),
    (lambda m: m.assign(identity=pd.Series(["a", "a", 7, "c"], dtype=object)),
     ds.MANIFEST_NOT_STRINGS.format(column="identity", dtype="object", row=2, value=7)),
    (lambda m: m.assign(path=["/d/x.png", "/d/y.png", "/d/x.png", "/d/y.png"]),
     ds.MANIFEST_DUPLICATE_PATHS.format(count=2, paths=["/d/x.png", "/d/y.png"])),
    (lambda m: m.assign(embedding=["e"] * 4),
     ds.MANIFEST_RESERVED_COLUMN.format(column="embedding", reserved="embedding")),
    (lambda m: m.rename(columns={"gender": 3}),
     ds.MANIFEST_BAD_COLUMN_NAMES.format(columns=["path", "identity", 3])),
    (lambda m: m.assign(gender=["M", "H", "H", "H"]),
     errors.ATTRIBUTE_NOT_CONSTANT.format(column="gender", identity="a", values=["H", "M"])),
])
def test_validate_manifest_errors_name_the_problem(make, expected):
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        validate_manifest(make(_manifest()))


def test_validate_manifest_refuses_what_is_not_a_dataframe():
    with pytest.raises(FairauditInputError, match=_exact(ds.NOT_A_MANIFEST.format(
            loader="validate_manifest", type="dict"))):
        validate_manifest({"path": []})


def _with_pairs(path_a, path_b, genuine, **extra):
    m = _manifest()
    m.attrs["pairs"] = pd.DataFrame({"path_a": path_a, "path_b": path_b, "genuine": genuine, **extra})
    return m


def _drop_genuine(m):
    m.attrs["pairs"] = m.attrs["pairs"].drop(columns="genuine")
    return m


@pytest.mark.parametrize("make, expected", [
    (lambda: _with_pairs(["/d/a1.png"], ["/d/zz.png"], [False]),
     ds.PAIRS_UNKNOWN_PATH.format(count=1, paths=["/d/zz.png"])),
    (lambda: _with_pairs(["/d/a1.png"], ["/d/a2.png"], [1]),
     ds.PAIRS_BAD_DTYPE.format(column="genuine", expected="boolean", dtype="int64", cast="bool")),
    (lambda: _with_pairs(["/d/a1.png"], ["/d/a2.png"], [True], fold=[1.5]),
     ds.PAIRS_BAD_DTYPE.format(column="fold", expected="integer", dtype="float64", cast="int")),
    (lambda: _with_pairs(["/d/a1.png", "/d/b1.png"], ["/d/a2.png", "/d/a1.png"], [True, True]),
     ds.PAIRS_LABEL_MISMATCH.format(row=1, genuine=True, a="b", b="a")),
    (lambda: _with_pairs(["/d/a1.png"], ["/d/a1.png"], [True]),
     ds.PAIRS_SELF.format(count=1, rows=[0])),
    (lambda: _with_pairs(["/d/a1.png"], ["/d/a2.png"], [True], same=[True]).pipe(_drop_genuine),
     ds.PAIRS_MISSING_COLUMN.format(column="genuine", columns=["path_a", "path_b", "same"])),
    (lambda: _with_pairs(["/d/a1.png"], [None], [False]),
     ds.PAIRS_MISSING_VALUES.format(column="path_b", count=1, rows=[0])),
])
def test_validate_manifest_checks_the_pairs_table(make, expected):
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        validate_manifest(make())


# --- manifest_subset -------------------------------------------------------------------------
def _population(ids_per_group: dict[tuple[str, str], int], images: int = 3) -> pd.DataFrame:
    rows = []
    for (gender, ethnicity), n in ids_per_group.items():
        for k in range(n):
            ident = f"{gender}{ethnicity}{k:03d}"
            rows += [(f"/d/{ident}/{i}.jpg", ident, gender, ethnicity) for i in range(images)]
    return pd.DataFrame(rows, columns=["path", "identity", "gender", "ethnicity"])


def test_subset_draws_n_identities_per_group_and_one_image_each():
    m = _population({("H", "A"): 30, ("H", "B"): 25, ("M", "A"): 40, ("M", "B"): 31})
    sub = manifest_subset(m, n_per_group=20, by=["gender", "ethnicity"], random_state=3)
    assert sub.groupby(["gender", "ethnicity"])["identity"].nunique().tolist() == [20] * 4
    assert sub["identity"].is_unique  # one image per identity
    assert sub.index.equals(pd.RangeIndex(80))
    original_rows = m.reset_index().merge(sub, on=list(m.columns))["index"].to_numpy()
    assert np.all(np.diff(original_rows) > 0)  # kept rows stay in manifest order


def test_subset_keeps_all_images_or_k_images_of_each_drawn_identity():
    m = _population({("H", "A"): 10, ("M", "A"): 10}, images=4)
    every = manifest_subset(m, n_per_group=5, by="gender", images_per_identity="all", random_state=0)
    assert every.groupby("identity").size().tolist() == [4] * 10
    two = manifest_subset(m, n_per_group=5, by="gender", images_per_identity=2, random_state=0)
    assert two.groupby("identity").size().tolist() == [2] * 10
    assert two.groupby("gender")["identity"].nunique().tolist() == [5, 5]


def test_subset_is_deterministic_given_the_seed():
    m = _population({("H", "A"): 30, ("M", "B"): 30})
    first = manifest_subset(m, n_per_group=10, by="gender", random_state=7)
    again = manifest_subset(m, n_per_group=10, by="gender", random_state=7)
    other = manifest_subset(m, n_per_group=10, by="gender", random_state=8)
    pd.testing.assert_frame_equal(first, again)
    assert first["path"].tolist() != other["path"].tolist()
    from_generator = manifest_subset(m, n_per_group=10, by="gender",
                                     random_state=np.random.default_rng(7))
    pd.testing.assert_frame_equal(first, from_generator)


def test_subset_choice_in_a_group_does_not_depend_on_other_groups():
    m = _population({("H", "A"): 30, ("M", "B"): 30, ("M", "N"): 12})
    full = manifest_subset(m, n_per_group=10, by="ethnicity", random_state=1)
    fewer = manifest_subset(m[m["ethnicity"] != "N"], n_per_group=10, by="ethnicity", random_state=1)
    assert full.loc[full["ethnicity"] != "N", "path"].tolist() == fewer["path"].tolist()


def test_subset_error_when_a_group_has_fewer_identities_than_asked():
    m = _population({("H", "A"): 12, ("M", "A"): 7})
    expected = ds.SUBSET_TOO_FEW.format(group="M", available=7, asked=10, qualifier="", smallest=7)
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        manifest_subset(m, n_per_group=10, by="gender", random_state=0)
    expected = ds.SUBSET_TOO_FEW.format(group="H & A", available=12, asked=20, qualifier="",
                                        smallest=7)
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        manifest_subset(m, n_per_group=20, by=["gender", "ethnicity"], random_state=0)
    expected = ds.SUBSET_TOO_FEW.format(group="H", available=0, asked=1,
                                        qualifier=" with at least 4 images", smallest=0)
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        manifest_subset(m, n_per_group=1, by="gender", images_per_identity=4, random_state=0)


@pytest.mark.parametrize("options, expected", [
    ({"n_per_group": 0}, ds.SUBSET_BAD_N.format(value=0)),
    ({"n_per_group": 2.0}, ds.SUBSET_BAD_N.format(value=2.0)),
    ({"n_per_group": 2, "images_per_identity": 0}, ds.SUBSET_BAD_IMAGES.format(value=0)),
    ({"n_per_group": 2, "images_per_identity": "every"}, ds.SUBSET_BAD_IMAGES.format(value="every")),
    ({"n_per_group": 2, "random_state": "x"}, ds.BAD_RANDOM_STATE.format(value="x", type="str")),
    ({"n_per_group": 2, "by": "age"},
     errors.UNKNOWN_ATTRIBUTE.format(name="by", value="age", available=["gender", "ethnicity"])),
])
def test_subset_bad_arguments_are_errors(options, expected):
    m = _population({("H", "A"): 5, ("M", "A"): 5})
    options = {"by": "gender", **options}
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        manifest_subset(m, **options)


def test_subset_keeps_only_pairs_whose_two_images_were_drawn():
    m = _population({("H", "A"): 6, ("M", "A"): 6}, images=2)
    paths = m["path"].tolist()
    m.attrs["pairs"] = pd.DataFrame({"path_a": paths[0::2], "path_b": paths[1::2],
                                     "genuine": [True] * (len(paths) // 2)})
    m.attrs["note"] = "kept"
    sub = manifest_subset(m, n_per_group=3, by="gender", images_per_identity="all", random_state=0)
    kept = set(sub["path"])
    pairs = sub.attrs["pairs"]
    assert len(pairs) == 6
    assert set(pairs["path_a"]) | set(pairs["path_b"]) == kept
    assert sub.attrs["note"] == "kept"
    assert len(m.attrs["pairs"]) == 12  # the input is left alone


# --- load_dataset and the plugin registry ----------------------------------------------------------
def test_unknown_dataset_name_lists_the_available_ones(tmp_path):
    available = plugins.available("dataset")
    assert {"folder", "csv", "rfw"} <= set(available)
    expected = plugins.UNKNOWN_NAME.format(argument="dataset", value="lfw", kind="dataset",
                                           available=", ".join(available))
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        load_dataset("lfw", tmp_path)


def test_load_dataset_resolves_builtin_loaders_by_name(tmp_path):
    _folder_tree(tmp_path, {"a": ["1.png", "2.png"], "b": ["1.png"]}, "identity,gender\na,M\nb,H\n")
    pd.testing.assert_frame_equal(load_dataset("folder", tmp_path), load_folder(tmp_path))
    (tmp_path / "manifest.csv").write_text("path,identity,gender\na/1.png,a,M\n")
    assert load_dataset("csv", tmp_path)["path"].tolist() == [str(tmp_path / "a" / "1.png")]


def test_load_dataset_rejects_options_the_loader_does_not_take(tmp_path):
    expected = ds.BAD_LOADER_OPTIONS.format(
        dataset="folder", error="got an unexpected keyword argument 'atributes'",
        accepted=["attributes"])
    with pytest.raises(FairauditInputError, match=_exact(expected)):
        load_dataset("folder", tmp_path, atributes="x.csv")


class _ToyPlugin:
    """A third-party plugin with two loaders: one good, one returning a broken manifest."""

    @staticmethod
    @hookimpl
    def register_datasets(register):
        def toy(root, *, n=2):
            return pd.DataFrame({"path": [f"img/{i}.png" for i in range(n)],
                                 "identity": [str(i) for i in range(n)],
                                 "skin": ["I"] * n})

        def broken(root):
            return pd.DataFrame({"path": ["/x.png", "/x.png"], "identity": ["1", "2"]})

        register("toy", toy, description="test loader")
        register("toy-broken", broken)


def test_load_dataset_uses_plugin_loaders_and_validates_their_manifest(tmp_path):
    name = plugins.register_plugin(_ToyPlugin(), name="toy-plugin")
    try:
        assert {"toy", "toy-broken"} <= set(plugins.available("dataset"))
        m = load_dataset("toy", tmp_path, n=3)
        assert m["path"].tolist() == [str(tmp_path / "img" / f"{i}.png") for i in range(3)]
        assert m["skin"].tolist() == ["I"] * 3
        with pytest.raises(FairauditInputError, match=_exact(ds.MANIFEST_DUPLICATE_PATHS.format(
                count=1, paths=["/x.png"]))):
            load_dataset("toy-broken", tmp_path)
    finally:
        plugins.unregister_plugin(name)
    assert "toy" not in plugins.available("dataset")


def test_load_dataset_accepts_a_loader_function_and_checks_what_it_returns(tmp_path):
    def rows(root):
        return [("/a.png", "1")]

    with pytest.raises(FairauditInputError, match=_exact(ds.NOT_A_MANIFEST.format(
            loader="rows", type="list"))):
        load_dataset(rows, tmp_path)

    def good(root, *, pairs=False):
        m = pd.DataFrame({"path": ["a.png", "b.png"], "identity": ["1", "1"]})
        if pairs:
            m.attrs["pairs"] = pd.DataFrame({"path_a": ["a.png"], "path_b": ["b.png"], "genuine": [True]})
        return m

    m = load_dataset(good, tmp_path / "list.txt", pairs=True)
    assert m.attrs["pairs"]["path_a"].tolist() == [str(tmp_path / "list.txt" / "a.png")]
    (tmp_path / "list.txt").write_text("")
    m = load_dataset(good, tmp_path / "list.txt", pairs=True)  # a file root: paths from its folder
    assert m["path"].tolist() == [str(tmp_path / "a.png"), str(tmp_path / "b.png")]
    assert m.attrs["pairs"]["path_b"].tolist() == [str(tmp_path / "b.png")]
