"""Hostile input to the audits, their options, group labels and every output path.

Each case asserts the exact one-line error (or the documented behaviour) and,
for outputs, that finished work is never lost. The image pipeline's cases are
in ``test_hostile_images.py``, the data files' in ``test_hostile_data.py``.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fairaudit
from fairaudit import EmbeddingSet, ScoreSet, synthetic
from fairaudit.cli import commands as cli_module
from fairaudit import errors
from fairaudit.common import files as io
from fairaudit.cli import main
from fairaudit.data.groups import BY_DUPLICATE, BY_NOT_NAMES, POOLED, render_labels
from fairaudit.common.seeds import BAD_RANDOM_STATE
from fairaudit.verification.audit import BAD_TILE, verification_audit
from fairaudit.verification import policy


# --------------------------------------------------------------------------
# data used throughout
@pytest.fixture(scope="module")
def pop():
    return synthetic.population("diveface", n_identities=12, samples_per_identity=3, dim=16, random_state=5)


@pytest.fixture(scope="module")
def pop_file(tmp_path_factory, pop):
    path = tmp_path_factory.mktemp("hostile") / "pop.npz"
    pop.save(path)
    return path


def relabel(es: EmbeddingSet, mapping: dict[str, dict[str, str]]) -> EmbeddingSet:
    attrs = es.attributes
    for column, table in mapping.items():
        attrs[column] = attrs[column].map(table)
    return EmbeddingSet(es.embeddings, identity=es.identity, attributes=attrs)


def rates_by_key(result, mapping_back=None) -> dict[tuple, tuple]:
    """(n_genuine, n_impostor, fmr, fnmr, eer) per group, keyed by the value tuple (mapped back)."""
    out = {}
    for key, row in result.by_group.iterrows():
        key = key if isinstance(key, tuple) else (key,)
        if mapping_back is not None:
            key = tuple(mapping_back[name][v] for name, v in zip(result.by, key))
        out[key] = (int(row.n_genuine), int(row.n_impostor), row.fmr, row.fnmr, row.eer)
    return out


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("fairaudit: error: ")
    assert "Traceback" not in err
    return lines[0][len("fairaudit: error: "):]


# --------------------------------------------------------------------------
# the pooled label and colliding intersection labels
def brute_force_counts(es: EmbeddingSet, by: list[str], threshold: float) -> dict[tuple, tuple[int, int, int, int]]:
    """(n_genuine, false non-matches, n_impostor, false matches) per group, from every pair's score."""
    x = es.normalized().astype(np.float64)
    s = x @ x.T
    keys = list(zip(*(es.column(b) for b in by)))
    ident = es.identity
    out: dict[tuple, list[int]] = {}
    for i, j in itertools.combinations(range(len(es)), 2):
        if keys[i] != keys[j]:
            continue
        c = out.setdefault(keys[i], [0, 0, 0, 0])
        if ident[i] == ident[j]:
            c[0] += 1
            c[1] += s[i, j] < threshold
        else:
            c[2] += 1
            c[3] += s[i, j] >= threshold
    return {k: tuple(v) for k, v in out.items()}


def test_a_group_named_like_the_pooled_label_changes_nothing(pop):
    plain = verification_audit(pop, by="ethnicity", threshold={"fmr": 1e-2}, n_boot=0)
    named = relabel(pop, {"ethnicity": {"A": POOLED, "B": "B", "N": "N"}})
    result = verification_audit(named, by="ethnicity", threshold={"fmr": 1e-2}, n_boot=0)
    assert result.threshold == plain.threshold
    back = {"ethnicity": {POOLED: "A", "B": "B", "N": "N"}}
    assert rates_by_key(result, back) == rates_by_key(plain)
    assert result.overall["fnmr"] == plain.overall["fnmr"]
    # the pooled curve and the group's curve are kept apart
    labels = list(result.by_group["label"])
    assert POOLED not in labels and '"all"' in labels
    assert set(result.curves["group"]) == {POOLED, *labels}
    pooled_curve = result.curves[result.curves.group == POOLED].reset_index(drop=True)
    plain_curve = plain.curves[plain.curves.group == POOLED].reset_index(drop=True)
    pd.testing.assert_frame_equal(pooled_curve, plain_curve)


def test_intersection_labels_that_would_collide_are_told_apart_and_counted_right(pop):
    g = pop.column("gender")
    x = np.where(g == "H", "a", "a & b")
    y = np.where(g == "H", "b & c", "c")
    es = EmbeddingSet(pop.embeddings, identity=pop.identity, attributes={"x": x, "y": y})
    result = verification_audit(es, by=["x", "y"], threshold=0.3, n_boot=0)
    assert list(result.by_group["label"]) == ['"a" & "b & c"', '"a & b" & "c"']
    truth = brute_force_counts(es, ["x", "y"], 0.3)
    for key, row in result.by_group.iterrows():
        n_gen, fnm, n_imp, fm = truth[key]
        assert (row.n_genuine, row.n_impostor) == (n_gen, n_imp)
        assert row.fnmr == pytest.approx(fnm / n_gen) and row.fmr == pytest.approx(fm / n_imp)
    # the same numbers as the same population with plain labels
    plain = verification_audit(pop, by="gender", threshold=0.3, n_boot=0)
    assert sorted(rates_by_key(result).values()) == sorted(rates_by_key(plain).values())


@pytest.mark.parametrize("rows, expected", [
    ([("A",), ("B",)], ["A", "B"]),
    ([("H", "A"), ("M", "A")], ["H & A", "M & A"]),
    ([("a", "b & c"), ("a & b", "c")], ['"a" & "b & c"', '"a & b" & "c"']),
    ([("all",), ("B",)], ['"all"', '"B"']),
    ([('"all"',), ("all",)], ['"\\"all\\""', '"all"']),
])
def test_labels_render_uniquely(rows, expected):
    assert render_labels(rows) == expected


def test_a_target_class_named_all_keeps_its_name(pop):
    named = relabel(pop, {"gender": {"H": POOLED, "M": "M"}})
    result = fairaudit.classification_audit(named, target="gender", by="ethnicity", split="pooled", n_seeds=1,
                                            progress=False, keep_models="none")
    assert sorted(result.classes) == ["M", POOLED]


def test_classification_and_diagnostics_accept_a_group_named_all(pop):
    named = relabel(pop, {"ethnicity": {"A": POOLED, "B": "B", "N": "N"}})
    result = fairaudit.classification_audit(named, target="gender", by="ethnicity", split="per-group",
                                            n_seeds=1, progress=False, keep_models="none")
    table = result.cross_table(include_all=True)
    assert list(table.columns) == ['"B"', '"N"', '"all"', POOLED]
    diag = fairaudit.embedding_diagnostics(named, by=["ethnicity", "gender"], method="pca", cv=2)
    assert {'all & H', 'all & M'} <= set(diag.coords["ethnicity & gender"])  # no pooled label here


# property: any labels give the same rates as plain ones
LABEL_TEXT = st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "" and "\x00" not in s)
SPECIAL = st.sampled_from([POOLED, " & ", "a & b", "$", "cost $5 and $", r"$\undefinedmacro{x}$", "\u202e",
                           "x\u202eevil", "\u200b", '"', '"all"', "0", "nan", "None", "NA", "&", "all "])


@pytest.fixture(scope="module")
def small_pop():
    return synthetic.population("diveface", n_identities=6, samples_per_identity=3, dim=16, random_state=2)


@pytest.fixture(scope="module")
def small_plain(small_pop):
    return {by: verification_audit(small_pop, by=list(by), threshold=0.25, n_boot=0)
            for by in [("ethnicity",), ("gender", "ethnicity")]}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(eth=st.lists(st.one_of(SPECIAL, LABEL_TEXT), min_size=3, max_size=3, unique_by=str.strip),
       gen=st.lists(st.one_of(SPECIAL, LABEL_TEXT), min_size=2, max_size=2, unique_by=str.strip))
def test_any_labels_give_the_same_rates_as_plain_labels(small_pop, small_plain, eth, gen):
    mapping = {"ethnicity": dict(zip(["A", "B", "N"], eth)), "gender": dict(zip(["H", "M"], gen))}
    back = {name: {v: k for k, v in table.items()} for name, table in mapping.items()}
    es = relabel(small_pop, mapping)
    for by, plain in small_plain.items():
        result = verification_audit(es, by=list(by), threshold=0.25, n_boot=0)
        assert rates_by_key(result, back) == rates_by_key(plain)
        labels = list(result.by_group["label"])
        assert len(set(labels)) == len(labels) and POOLED not in labels
        assert result.overall["fnmr"] == plain.overall["fnmr"]
        assert set(result.curves["group"]) == {POOLED, *labels}


# --------------------------------------------------------------------------
# options of the audits
@pytest.mark.parametrize("kwargs, message", [
    ({"random_state": "x"}, BAD_RANDOM_STATE.format(value="x")),
    ({"random_state": -1}, BAD_RANDOM_STATE.format(value=-1)),
    ({"random_state": 1.5}, BAD_RANDOM_STATE.format(value=1.5)),
    ({"random_state": True}, BAD_RANDOM_STATE.format(value=True)),
    ({"tile": "a"}, BAD_TILE.format(value="a")),
    ({"tile": 0}, BAD_TILE.format(value=0)),
    ({"tile": -5}, BAD_TILE.format(value=-5)),
    ({"tile": 2.5}, BAD_TILE.format(value=2.5)),
    ({"by": 0}, BY_NOT_NAMES.format(value=0, available=["gender", "ethnicity"])),
    ({"by": {"gender": 1}}, BY_NOT_NAMES.format(value={"gender": 1}, available=["gender", "ethnicity"])),
    ({"by": ["gender", "gender"]}, BY_DUPLICATE.format(value=["gender", "gender"], name="gender")),
    ({"by": ""}, errors.EMPTY_BY.format(value="")),
    ({"by": [0]}, errors.UNKNOWN_ATTRIBUTE.format(name="by", value=0, available=["gender", "ethnicity"])),
    ({"n_boot": 5}, errors.BAD_N_BOOT.format(value=5)),
    ({"n_boot": 1.5}, errors.BAD_N_BOOT.format(value=1.5)),
    ({"alpha": float("nan")}, errors.BAD_ALPHA.format(value=float("nan"))),
    ({"ci": 1.0}, errors.BAD_CI.format(value=1.0)),
    ({"threshold": float("nan")}, policy.THRESHOLD_OUT_OF_RANGE.format(value=float("nan"))),
    ({"threshold": 42}, policy.THRESHOLD_OUT_OF_RANGE.format(value=42)),
    ({"threshold": {"fmr": 0}}, policy.FMR_TARGET_OUT_OF_RANGE.format(value=0)),
    ({"threshold": [0.3]}, errors.BAD_THRESHOLD.format(value=[0.3])),
])
def test_bad_audit_options_are_refused_before_any_work(pop, kwargs, message, monkeypatch):
    import fairaudit.verification.audit as v

    def never(*args, **kw):  # the engine must not start
        raise AssertionError("the engine ran before the options were checked")

    monkeypatch.setattr(v, "_stats_from_data", never)
    args = {"by": "gender", "n_boot": 0, **kwargs}
    with pytest.raises(errors.FairauditInputError) as info:
        verification_audit(pop, **args)
    assert str(info.value) == message


def test_bad_options_are_refused_before_a_dask_cluster_starts(pop, monkeypatch):
    import fairaudit.common.executors as d

    monkeypatch.setattr(d, "executor_for", lambda *a, **k: (_ for _ in ()).throw(AssertionError("started")))
    with pytest.raises(errors.FairauditInputError):
        verification_audit(pop, by="gender", workers=2, random_state="x")


# --------------------------------------------------------------------------
# user text drawn literally
HOSTILE_DOLLARS = {"A": "cost $5 and $", "B": r"$\undefinedmacro{x}$", "N": "$x^$"}


@pytest.fixture(scope="module")
def dollar_result(pop):
    es = relabel(pop, {"ethnicity": HOSTILE_DOLLARS})
    return verification_audit(es, by=["ethnicity", "gender"], threshold={"fmr": 1e-2}, n_boot=20, random_state=0)


def visible_texts(fig):
    from matplotlib.text import Text

    fig.canvas.draw()
    texts = list(fig.findobj(Text))
    for ax in fig.axes:  # tick labels are not children findobj walks into
        for axis in (ax.xaxis, ax.yaxis):
            texts += axis.get_ticklabels(minor=False) + axis.get_ticklabels(minor=True)
    return [t for t in texts if t.get_visible() and t.get_text()]


def assert_literal(fig, names):
    """Every text that shows a user name shows it as it is (escaped '$'), and nothing is mathtext but
    the tick labels of log axes (matplotlib's own)."""
    from matplotlib import cbook

    shown = ""
    for t in visible_texts(fig):
        text = t.get_text()
        if cbook.is_math_text(text):
            assert text.startswith(r"$\mathdefault{"), text
            continue
        shown += "\n" + text.replace(r"\$", "$")
    for name in names:
        assert name in shown, name


@pytest.mark.parametrize("name", ["fmr_fnmr", "det", "roc", "histogram_grid", "cross_fmr", "by_group", "fairness"])
def test_dollar_signs_in_group_names_are_drawn_literally(dollar_result, name):
    import matplotlib.pyplot as plt

    from fairaudit import plot

    obj = getattr(plot, name)(dollar_result)
    fig = obj if hasattr(obj, "savefig") else obj.figure
    try:
        if name != "fairness":
            assert_literal(fig, [v for v in HOSTILE_DOLLARS.values()])
    finally:
        plt.close(fig)


def test_save_all_with_an_undefined_macro_in_a_group_name(dollar_result, tmp_path):
    from fairaudit import plot

    paths = plot.save_all(dollar_result, tmp_path)
    assert len(paths) == 8 and all(p.stat().st_size > 0 for p in paths)


def test_report_figures_keep_mathtext_ticks_and_literal_names(dollar_result, tmp_path):
    """The report draws log axes with mathtext tick labels and user names literally."""
    from fairaudit import plot

    for build in (lambda: plot.det(dollar_result), lambda: plot.fmr_fnmr(dollar_result, log=True),
                  lambda: plot.cross_fmr(dollar_result)):
        fig = build().figure
        texts = [t.get_text() for t in visible_texts(fig)]
        assert any(t.startswith(r"$\mathdefault{10^{") for t in texts)
    html = fairaudit.report({"dollars": dollar_result}, tmp_path / "r.html").read_text(encoding="utf-8")
    assert "could not be drawn" not in html
    assert "cost $5 and $" in html


def test_bidi_controls_in_group_names_are_shown_not_applied(pop, tmp_path):
    es = relabel(pop, {"ethnicity": {"A": "abc\u202edef", "B": "\u2066B\u2069", "N": "N"}})
    result = verification_audit(es, by="ethnicity", threshold="eer", n_boot=0)
    html = fairaudit.report({"bidi \u202e title": result}, tmp_path / "b.html").read_text(encoding="utf-8")
    for ch in ("\u202e", "\u2066", "\u2069"):
        assert ch not in html
    assert "abc[U+202E]def" in html and "[U+2066]B[U+2069]" in html and "bidi [U+202E] title" in html


# --------------------------------------------------------------------------
# output paths: checked before the work, never a lost result
@pytest.fixture
def afile(tmp_path):
    path = tmp_path / "afile"
    path.write_text("a regular file")
    return path


def not_writable(name, path, why, what="file"):
    return io.OUTPUT_NOT_WRITABLE.format(name=name, path=str(path), why=why, what=what)


OUTPUT_CASES = [
    # (argv template, option, path template, why, what)
    (["verify", "{pop}", "--by", "ethnicity", "--json", "{afile}/r.json"], "--json", "{afile}/r.json",
     "'{afile}' is a file, not a directory", "file"),
    (["verify", "{pop}", "--by", "ethnicity", "--json", "{tmp}"], "--json", "{tmp}", "it is a directory", "file"),
    (["verify", "{pop}", "--by", "ethnicity", "--plots", "{afile}"], "--plots", "{afile}",
     "it exists and is not a directory", "directory"),
    (["verify", "{pop}", "--by", "ethnicity", "--plots", "{afile}/sub/dir"], "--plots", "{afile}/sub/dir",
     "'{afile}' is a file, not a directory", "directory"),
    (["classify", "{pop}", "--target", "gender", "--by", "ethnicity", "--json", "{afile}/c.json"], "--json",
     "{afile}/c.json", "'{afile}' is a file, not a directory", "file"),
    (["diagnose", "{pop}", "--by", "gender", "--out", "{afile}"], "--out", "{afile}",
     "it exists and is not a directory", "directory"),
    (["synth", "--out", "{afile}/p.npz"], "--out", "{afile}/p.npz", "'{afile}' is a file, not a directory", "file"),
    (["synth", "--out", "{tmp}"], "--out", "{tmp}", "it is a directory", "file"),
    (["demo", "--out", "{afile}"], "--out", "{afile}", "it exists and is not a directory", "directory"),
    (["report", "{json}", "--out", "{afile}/r.html"], "--out", "{afile}/r.html",
     "'{afile}' is a file, not a directory", "file"),
    (["report", "{json}", "--out", "{tmp}/r.html", "--json", "{afile}/d.json"], "--json", "{afile}/d.json",
     "'{afile}' is a file, not a directory", "file"),
    (["report", "{json}", "--out", "{tmp}"], "--out", "{tmp}", "it is a directory", "file"),
]


@pytest.fixture(scope="module")
def result_json(tmp_path_factory, pop):
    path = tmp_path_factory.mktemp("json") / "v.json"
    verification_audit(pop, by="ethnicity", n_boot=0).to_json(path)
    return path


@pytest.mark.parametrize("argv, option, path, why, what", OUTPUT_CASES)
def test_unwritable_outputs_are_refused_before_the_work(pop_file, result_json, afile, tmp_path, capsys, monkeypatch,
                                                         argv, option, path, why, what):
    import fairaudit.classification.audit as classification
    import fairaudit.diagnostics.audit as diagnostics
    import fairaudit.data.synthetic as synthetic

    def fill(text):
        return text.format(pop=pop_file, afile=afile, tmp=tmp_path, json=result_json)

    def never(*args, **kwargs):
        raise AssertionError("the work started before the outputs were checked")

    for module, name in [(fairaudit.verification.audit, "_verification_audit"),
                         (fairaudit.classification, "classification_audit"),
                         (fairaudit.classification.audit, "classification_audit"),
                         (fairaudit.diagnostics, "embedding_diagnostics"),
                         (fairaudit.diagnostics.audit, "embedding_diagnostics"),
                         (fairaudit.data.synthetic, "population")]:
        monkeypatch.setattr(module, name, never)
    assert main([fill(a) for a in argv]) == 2
    assert one_line_error(capsys) == not_writable(option, fill(path), fill(why), what)


def test_a_write_that_fails_at_the_end_saves_the_work_elsewhere(pop_file, tmp_path, capsys, monkeypatch):
    """The output directory vanishes while the audit runs: the JSON goes to a fallback file, exit code 2."""
    import shutil

    import fairaudit.verification.audit as v

    out_dir = tmp_path / "out"
    out_dir.mkdir()
    real = v.verification_audit

    def audit_then_break_the_output(*args, **kwargs):
        result = real(*args, **kwargs)
        shutil.rmtree(out_dir)
        out_dir.write_text("now a file")
        return result

    monkeypatch.setattr(fairaudit.verification, "verification_audit", audit_then_break_the_output)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    code = main(["verify", str(pop_file), "--by", "ethnicity", "--n-boot", "20", "--json", str(out_dir / "r.json")])
    assert code == 2
    message = one_line_error(capsys)
    (rescued,) = list(work.glob("fairaudit-rescued-*-r.json"))
    assert message == io.OUTPUT_SAVED_ELSEWHERE.format(name="--json", path=str(out_dir / "r.json"),
                                                       why=f"'{out_dir}' is a file, not a directory",
                                                       fallback=str(rescued.resolve()))
    saved = fairaudit.VerificationResult.from_json(rescued)
    again = real(EmbeddingSet.load(pop_file), by="ethnicity", n_boot=20, random_state=0)
    pd.testing.assert_frame_equal(saved.by_group, again.by_group, check_dtype=False)


def test_every_output_is_attempted_when_one_fails(pop_file, tmp_path, capsys, monkeypatch):
    import fairaudit.verification.audit as v

    json_dir = tmp_path / "j"
    real = v.verification_audit

    def audit_then_break(*args, **kwargs):
        result = real(*args, **kwargs)
        json_dir.rmdir()
        json_dir.write_text("x")
        return result

    json_dir.mkdir()
    monkeypatch.setattr(fairaudit.verification, "verification_audit", audit_then_break)
    monkeypatch.chdir(tmp_path)
    code = main(["verify", str(pop_file), "--by", "ethnicity", "--n-boot", "0", "--json", str(json_dir / "r.json"),
                 "--plots", str(tmp_path / "plots")])
    assert code == 2
    assert "saved to" in one_line_error(capsys)
    assert len(list((tmp_path / "plots").glob("*.png"))) == 8


def test_the_fallback_is_reported_when_it_fails_too(tmp_path, monkeypatch):
    calls = []

    def write(path):
        calls.append(path)
        raise PermissionError(13, "Permission denied")

    monkeypatch.chdir(tmp_path)
    with pytest.raises(io.OutputPathError) as info:
        io.save_or_fallback(write, tmp_path / "x.json", name="--json")
    assert str(info.value) == io.OUTPUT_LOST.format(name="--json", path=str(tmp_path / "x.json"),
                                                    why="Permission denied", fallback=str(calls[1]),
                                                    why2="Permission denied")


@pytest.mark.parametrize("target", ["{afile}/x.json", "{tmp}"])
def test_to_json_into_an_unwritable_place_is_one_clear_error(pop, afile, tmp_path, target):
    result = verification_audit(pop, by="gender", n_boot=0)
    path = target.format(afile=afile, tmp=tmp_path)
    with pytest.raises(io.OutputPathError) as info:
        result.to_json(path)
    why = f"'{afile}' is a file, not a directory" if "afile" in target else "Is a directory"
    assert str(info.value) == not_writable("path", path, why)


def test_report_into_an_unwritable_place_is_one_clear_error(pop, afile):
    result = verification_audit(pop, by="gender", n_boot=0)
    with pytest.raises(io.OutputPathError) as info:
        fairaudit.report({"r": result}, afile / "r.html")
    assert str(info.value) == not_writable("path", afile / "r.html", f"'{afile}' is a file, not a directory")


@pytest.mark.parametrize("path, why", [("", "the path is empty"), ("{afile}", "it exists and is not a directory")])
def test_check_output_directory_cases(afile, path, why):
    path = path.format(afile=afile)
    with pytest.raises(io.OutputPathError) as info:
        io.check_output(path, name="--out", directory=True)
    assert str(info.value) == not_writable("--out", path, why, "directory")


# --------------------------------------------------------------------------
# CLI inputs
def test_empty_cells_in_a_labels_csv_are_refused(tmp_path, capsys):
    np.save(tmp_path / "e.npy", np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32))
    (tmp_path / "l.csv").write_text("identity,g\na,x\na,\nb,y\nb,y\nc, \nc,z\n")
    assert main(["verify", str(tmp_path / "e.npy"), "--labels", str(tmp_path / "l.csv"), "--by", "g"]) == 2
    assert one_line_error(capsys) == cli_module.LABELS_EMPTY_CELLS.format(
        option="--labels", path=str(tmp_path / "l.csv"), count=2, column="g", lines=[3, 6])


def test_labels_that_look_missing_are_kept_as_text(tmp_path, capsys):
    np.save(tmp_path / "e.npy", np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32))
    (tmp_path / "l.csv").write_text("identity,g\na,NA\na,NA\nb,None\nb,None\nc,NA\nc,NA\n")
    assert main(["verify", str(tmp_path / "e.npy"), "--labels", str(tmp_path / "l.csv"), "--by", "g",
                 "--n-boot", "0"]) == 0
    out = capsys.readouterr().out
    assert "\nNA " in out and "\nNone " in out


@pytest.mark.parametrize("argv, message", [
    (["verify", "{tmp}/missing.npz", "--by", "g"], cli_module.DATA_MISSING.format(path="{tmp}/missing.npz")),
    (["verify", "{tmp}", "--by", "g"], cli_module.DATA_IS_DIR.format(path="{tmp}")),
    (["verify", "{pop}", "--by", "ethnicity", "--seed", "-1"],
     "argument --seed: -1 is negative; seeds are integers >= 0. Fix: see 'fairaudit verify --help'."),
    (["verify", "{pop}", "--by", "ethnicity", "--seed", "x"],
     "argument --seed: 'x' is not an integer >= 0. Fix: see 'fairaudit verify --help'."),
    (["classify", "{pop}", "--target", "gender", "--by", "ethnicity", "--seed", "-3"],
     "argument --seed: -3 is negative; seeds are integers >= 0. Fix: see 'fairaudit classify --help'."),
    (["report", "{tmp}", "--out", "{tmp}/r.html"],
     "RESULT: '{tmp}' is a directory, not a result file. Fix: pass the JSON file itself."),
])
def test_cli_inputs_are_one_line_errors(pop_file, tmp_path, capsys, argv, message):
    fill = lambda s: s.replace("{tmp}", str(tmp_path)).replace("{pop}", str(pop_file))  # noqa: E731
    with pytest.raises(SystemExit) if "--seed" in argv else _nothing():
        code = main([fill(a) for a in argv])
        assert code == 2
    assert one_line_error(capsys) == fill(message)


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_score_files_with_a_group_named_all_and_colliding_labels(pop):
    """The ScoreSet route keys groups by value tuples too."""
    n = len(pop)
    ia, ib = np.triu_indices(n, k=1)
    x = pop.normalized().astype(np.float64)
    score = np.einsum("ij,ij->i", x[ia], x[ib])
    attrs = pop.attributes

    def scoreset(table):
        return ScoreSet.from_arrays(score, identity_a=pop.identity[ia], identity_b=pop.identity[ib],
                                    attributes_a=table.iloc[ia].reset_index(drop=True),
                                    attributes_b=table.iloc[ib].reset_index(drop=True))

    plain = verification_audit(scoreset(attrs), by=["gender", "ethnicity"], threshold={"fmr": 1e-2}, n_boot=0)
    hostile = attrs.copy()
    hostile["gender"] = hostile["gender"].map({"H": "a", "M": "a & b"})
    hostile["ethnicity"] = hostile["ethnicity"].map({"A": "b & c", "B": "all", "N": "c"})
    result = verification_audit(scoreset(hostile), by=["gender", "ethnicity"], threshold={"fmr": 1e-2}, n_boot=0)
    back = {"gender": {"a": "H", "a & b": "M"}, "ethnicity": {"b & c": "A", "all": "B", "c": "N"}}
    assert result.threshold == plain.threshold
    assert rates_by_key(result, back) == rates_by_key(plain)
    labels = list(result.by_group["label"])
    assert len(set(labels)) == 6 and POOLED not in labels
