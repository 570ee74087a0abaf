"""Tests of fairaudit.identification.read_candidates: NIST candidate lists and bob's score files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import FairauditInputError
from fairaudit.identification import CandidateLists, read_candidates

GROUP = {"a": "F", "b": "F", "c": "M", "d": "M", "e": "M", "x": "F", "y": "M", "z": "M"}
GALLERY = ["a", "b", "c", "d", "e"]
AUDIT = dict(by="g", threshold=0.5, n_boot=0)


def _people() -> pd.DataFrame:
    return pd.DataFrame({"identity": list(GROUP), "g": list(GROUP.values())})


def _lists_data(seed: int = 3):
    """Searches (mated and not), their candidates (ties, repeated identities, a truncated list whose
    mate is missing), as tables: every score a multiple of 1/8, so text round-trips exactly."""
    rng = np.random.default_rng(seed)
    searches = []
    rows = []
    for i in range(24):
        ident = GALLERY[i % 5] if i < 15 else ["x", "y", "z"][i % 3]
        sid = f"s{i:02d}"
        searches.append((sid, ident))
        listed = rng.permutation(GALLERY)[: 5 if i % 4 else 3]  # some lists cut at 3
        for cand in listed:
            rows.append((sid, cand, float(rng.integers(-4, 8)) / 8))
        if i % 6 == 0:  # a second gallery sample of the first listed identity
            rows.append((sid, listed[0], float(rng.integers(-4, 8)) / 8))
    cand = pd.DataFrame(rows, columns=["search_id", "candidate", "score"])
    s = pd.DataFrame(searches, columns=["search_id", "identity"])
    s["g"] = s["identity"].map(GROUP)
    g = pd.DataFrame({"identity": GALLERY, "g": [GROUP[i] for i in GALLERY]})
    return cand, s, g


def _ranked(cand: pd.DataFrame) -> pd.DataFrame:
    """One row per (search, identity), its best score, ranked 1.. by score (ties by identity)."""
    best = cand.groupby(["search_id", "candidate"], as_index=False)["score"].max()
    best = best.sort_values(["search_id", "score", "candidate"], ascending=[True, False, True])
    best["rank"] = best.groupby("search_id").cumcount() + 1
    return best


def _same_results(got: CandidateLists, want: CandidateLists, **kw) -> None:
    a = fairaudit.identification_audit(got, **{**AUDIT, **kw})
    b = fairaudit.identification_audit(want, **{**AUDIT, **kw})
    for name in ("by_group", "cmc", "curves", "gallery", "landing", "fairness"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True)
    pd.testing.assert_series_equal(a.overall, b.overall, check_exact=True)
    assert a.threshold == b.threshold


@pytest.mark.parametrize("sep", [",", " "])
def test_nist_round_trips(tmp_path, sep):
    cand, s, g = _lists_data()
    ranked = _ranked(cand)
    path = tmp_path / "lists.txt"
    lines = [sep.join(["searchId", "candidateRank", "templateId", "score"])]
    lines += [sep.join([r.search_id, str(r.rank - 1), r.candidate, repr(r.score)]) for r in ranked.itertuples()]
    path.write_text("\n".join(lines) + "\n")
    lists = read_candidates(path, searches=s, gallery=g)
    assert lists.source.endswith("(nist)")
    assert "detected as 'nist'" in lists.notes[0]
    _same_results(lists, CandidateLists(cand, s, g), rank=2, k=4)
    _same_results(lists, CandidateLists(cand, s, g), threshold="fpir=0.2")


def test_nist_placeholders_and_failed_searches_are_noted(tmp_path):
    """NIST's own layout: whitespace, 0-based ranks, empty templateId for unassigned slots."""
    path = tmp_path / "search.log"
    path.write_text("searchId candidateRank searchRetCode isAssigned templateId score decision\n"
                    "s1 0 0 1 a 0.9 1\ns1 1 0 1 b 0.5 1\n"
                    "s2 0 0 1 a 0.625 1\ns2 1 0 0  0 0\n"
                    "s3 0 2 0  0 0\ns3 1 2 0  0 0\n")
    s = pd.DataFrame({"search_id": ["s1", "s2", "s3", "s4"], "identity": ["a", "x", "b", "y"]})
    lists = read_candidates(path, format="nist", searches=s, gallery=_people().iloc[:2],
                            attributes=_people())
    assert len(lists.candidates) == 3
    notes = " ".join(lists.notes)
    assert "['decision']" in notes and "3 row(s) have isAssigned=0" in notes
    assert "1 search(es) report a non-zero searchRetCode" in notes
    assert "1 search(es) of the searches table have no row" in notes
    memory = CandidateLists(pd.DataFrame({"search_id": ["s1", "s1", "s2"], "candidate": ["a", "b", "a"],
                                          "score": [0.9, 0.5, 0.625]}),
                            s.assign(g=s["identity"].map(GROUP)), _people().iloc[:2])
    _same_results(lists, memory)
    result = fairaudit.identification_audit(lists, **AUDIT)
    assert any("isAssigned=0" in n for n in result.notes)


def test_nist_ranks_without_scores(tmp_path):
    path = tmp_path / "ranks.csv"
    path.write_text("probe,rank,subjectId\ns1,1,a\ns1,2,b\ns2,1,b\ns3,1,c\n")
    s = pd.DataFrame({"search_id": ["s1", "s2", "s3"], "identity": ["b", "b", "z"], "g": ["F", "F", "M"]})
    g = _people().iloc[:3]
    lists = read_candidates(path, searches=s, gallery=g)
    assert list(lists.candidates["score"]) == [-1.0, -2.0, -1.0, -1.0]
    result = fairaudit.identification_audit(lists, by="g", threshold=-1, n_boot=0)
    assert any("minus its rank" in n for n in result.notes)
    by = result.by_group.set_index("label")
    assert by.loc["F", "fnir"] == 0.5  # s1's mate b is at rank 2: missed at threshold -1 (rank 1)
    assert by.loc["M", "fpir"] == 1.0
    assert result.cmc.query("group == 'F' and rank == 2")["identification_rate"].item() == 1.0


@pytest.mark.parametrize("ncols", [4, 5])
def test_bob_round_trips(tmp_path, ncols):
    cand, s, g = _lists_data()
    mates = dict(zip(s["search_id"], s["identity"]))
    path = tmp_path / f"scores{ncols}.txt"
    cand["model"] = [f"{c}_m{j % 2}" for j, c in enumerate(cand["candidate"])]
    with open(path, "w") as fh:
        for r in cand.itertuples():
            model = [r.model] if ncols == 5 else []
            fh.write(" ".join([r.candidate, *model, mates[r.search_id], r.search_id, repr(r.score)]) + "\n")
    if ncols == 5:  # the gallery has one row (sample) per model
        g = cand[["candidate", "model"]].drop_duplicates().rename(columns={"candidate": "identity"})
        g["g"] = g["identity"].map(GROUP)
    # the gallery of a bob file is its claimed ids: every search here has at least one row
    for table in ({"attributes": _people()}, {"searches": _people()}, {"gallery": _people().set_index("identity")},
                  {"attributes": str(tmp_path / "people.csv")}):
        _people().to_csv(tmp_path / "people.csv", index=False)
        lists = read_candidates(path, **table)
        assert f"'bob{ncols}'" in lists.notes[0] and any("repeat an identity" in n for n in lists.notes)
        _same_results(lists, CandidateLists(cand, s, g))
    explicit = read_candidates(path, format=f"bob{ncols}", attributes=_people())
    assert not any("detected" in n for n in explicit.notes)
    _same_results(explicit, CandidateLists(cand, s, g), rank=3, threshold="fpir=0.3")


def test_bob_per_search_table_and_unscored_mate(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("a a p1 0.75\nb a p1 0.5\na b p2 0.25\n")  # p2 is of b, enrolled, never scored against b
    per = pd.DataFrame({"search_id": ["p1", "p2"], "identity": ["a", "b"], "quality": ["good", "bad"]})
    lists = read_candidates(path, format="bob4", searches=per, gallery=_people())
    assert list(lists.searches["quality"]) == ["good", "bad"]
    assert any("no score against it" in n for n in lists.notes)
    result = fairaudit.identification_audit(lists, **AUDIT)
    assert result.overall["fnir"] == 0.5


def test_audit_figures_of_a_hand_made_file(tmp_path):
    path = tmp_path / "hand.txt"
    rows = {"p1": ("a", dict(a=0.8, b=0.6, c=0.3, d=0.2)), "p2": ("b", dict(a=0.7, b=0.7, c=0.1, d=0.1)),
            "p3": ("c", dict(a=0.6, b=0.2, c=0.4, d=0.3)), "p4": ("d", dict(a=0.1, b=0.2, c=0.3, d=0.9)),
            "p5": ("x", dict(a=0.55, b=0.3, c=0.2, d=0.1)), "p6": ("y", dict(a=0.2, b=0.45, c=0.1, d=0.3)),
            "p7": ("z", dict(a=0.1, b=0.2, c=0.5, d=0.3))}
    path.write_text("".join(f"{c} {real} {p} {s}\n" for p, (real, sc) in rows.items() for c, s in sc.items()))
    lists = read_candidates(path, attributes=_people())
    r = fairaudit.identification_audit(lists, **AUDIT)
    by = r.by_group.set_index("label")
    # F: p1 found at rank 1; p2's mate (0.7) ties the non-mate a, which ranks ahead of it (rank = 1 + the
    # non-mates scoring at least as high): rank 2, missed at rank 1; p5's best 0.55 >= 0.5
    assert (by.loc["F", "n_mated"], by.loc["F", "fnir"], by.loc["F", "fpir"], by.loc["F", "rank1"]) == (2, 0.5, 1, 0.5)
    # M: p3's mate is at rank 2 (a scores 0.6), p4 found; p7's best equals the threshold (>=): a false positive
    assert (by.loc["M", "fnir"], by.loc["M", "fpir"], by.loc["M", "rank1"]) == (0.5, 0.5, 0.5)
    assert r.overall["fnir"] == 0.5 and r.overall["fpir"] == 2 / 3  # p2 and p3 missed of 4 mated
    cmc = r.cmc.set_index(["group", "rank"])
    assert cmc.loc[("F", 1), "identification_rate"] == 0.5 and cmc.loc[("F", 2), "identification_rate"] == 1.0
    assert cmc.loc[("F", 2), "dir"] == 1.0  # p2 is at rank 2 and scores 0.7 >= 0.5
    assert cmc.loc[("M", 1), "identification_rate"] == 0.5 and cmc.loc[("M", 2), "identification_rate"] == 1.0
    assert cmc.loc[("M", 2), "dir"] == 0.5  # p3 is at rank 2 but scores 0.4 < 0.5
    landing = r.landing.set_index(["probe_group", "candidate_group"])["n_false_positives"]
    assert landing[("F", "F")] == 1 and landing[("M", "M")] == 1 and landing[("M", "F")] == 0
    assert r.protocol["source"].endswith("(bob4)")


def _raises(match, path, **kw):
    with pytest.raises(FairauditInputError, match=match) as info:
        read_candidates(path, **kw)
    assert info.value.__cause__ is None and (info.value.__context__ is None or info.value.__suppress_context__)
    return str(info.value)


def test_malformed_bob_files(tmp_path):
    people = {"attributes": _people()}
    bad = tmp_path / "bad.txt"
    bad.write_text("a a p1 0.5\n\nb a p1 0.25 extra\n")
    msg = _raises("line 3: expected 4 whitespace-separated fields", bad, **people)
    assert "(read as bob4)" in msg and "found 5" in msg and "format='bob5'" in msg
    bad.write_text("a a p1 0.5\nb a p1 abc\n")
    msg = _raises(r"line 2: the score 'abc' is not a number", bad, format="bob4", **people)
    bad.write_text("a a p1 0.5\nb a p1 0,25\n")
    _raises("decimal comma", bad, **people)
    bad.write_text("a a p1 inf\n")
    _raises("is not finite", bad, **people)
    bad.write_text("claimed_id real_id probe_label score\na a p1 0.5\n")
    _raises("looks like a header", bad, format="bob4", **people)
    bad.write_text("a m1 a p1 0.5\nb m1 a p1 0.25\n")
    _raises("line 1: expected 4", bad, format="bob4", **people)
    bad.write_text("a a p1 0.5\nb b p1 0.25\n")
    _raises("lines 1 and 2: probe 'p1' has real_id 'a' and 'b'", bad, **people)
    bad.write_text("a a p1 0.5\nb q p2 0.25\n")
    _raises(r"1 identity of the probes \(real_id\) is not in attributes \(first: \['q'\], e.g. line 2\)", bad,
            **people)
    clash = _people().assign(g=lambda t: t["g"].where(t["identity"] != "a", "M"))
    _raises("identity 'a' has g='F' in gallery and 'M' in attributes", bad, gallery=_people(), attributes=clash)
    holey = _people().astype(object)
    holey.loc[0, "g"] = None
    _raises("attributes: 1 missing value", tmp_path / "bad.txt", attributes=holey)


def test_malformed_nist_files(tmp_path):
    s = pd.DataFrame({"search_id": ["s1", "s2"], "identity": ["a", "x"], "g": ["F", "F"]})
    kw = {"searches": s, "gallery": _people().iloc[:2]}
    bad = tmp_path / "bad.csv"
    bad.write_text("s1,1,a,0.5\ns1,2,b,0.25\n")
    _raises("is not a NIST candidate-list header", bad, format="nist", **kw)
    bad.write_text("search_id,rank,candidate,score\ns1,1,a,0.5\ns1,2,b\n")
    msg = _raises("line 3: expected 4 comma-separated fields", bad, **kw)
    assert "(read as nist)" in msg and "'s1,2,b'" in msg
    bad.write_text("search_id,rank,candidate,score\ns1,1,a,0.5\ns1,2,b,high\n")
    _raises("line 3: column 'score' 'high' is not a number", bad, **kw)
    bad.write_text("search_id,rank,candidate,score\ns1,1,a,0.5\ns1,2.5,b,0.25\n")
    _raises("line 3: column 'rank' '2.5' is not a whole number", bad, **kw)
    bad.write_text("search_id,rank,candidate,score\ns1,1,a,0.5\ns1,1,b,0.25\n")
    _raises("lines 2 and 3 both give search 's1' rank 1", bad, **kw)
    bad.write_text("search_id,rank,candidate,score\ns1,1,a,0.25\ns1,2,b,0.5\n")
    _raises("higher score than rank 1.*distances", bad, **kw)
    bad.write_text("search_id,rank,candidate,score\ns1,1,a,0.5\ns9,1,b,0.25\n")
    _raises("line 3: search 's9' is not in searches", bad, **kw)
    bad.write_text("search_id,rank,candidate,score\ns1,1,a,0.5\ns2,1,q,0.25\n")
    _raises("line 3: candidate 'q' is not in gallery", bad, **kw)
    bad.write_text("search_id,rank,candidate,score\n")
    _raises("has a header .* but no candidate row", bad, **kw)
    bad.write_text("search_id,rank,candidate,score\ns1,1,a,0.5\n")
    _raises("searches=None: a NIST file does not say", bad, gallery=_people())
    _raises("gallery=None: a NIST file does not say which identities are enrolled", bad, searches=s)
    _raises("searches: no column 'identity'", bad, searches=s[["search_id"]], gallery=_people())
    _raises("searches is a list: expected a pandas DataFrame or the path of a CSV file", bad, searches=[1],
            gallery=_people())
    _raises("searches: file .* does not exist", bad, searches=str(tmp_path / "none.csv"), gallery=_people())


def test_empty_unknown_and_undetectable_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    _raises("is empty \\(0 bytes\\)", empty)
    empty.write_text("\n  \n")
    _raises("only blank lines", empty, format="bob4")
    three = tmp_path / "three.txt"
    three.write_text("a p1 0.5\n")
    msg = _raises("cannot tell the format of .*3 whitespace-separated field", three)
    assert "'nist'" in msg and "'bob4'" in msg and "'bob5'" in msg
    _raises(r"format='csv' is not a candidate-list format; expected one of \['nist', 'bob4', 'bob5'\]", three,
            format="csv")
    _raises("file .* does not exist", tmp_path / "missing.txt")
    latin = tmp_path / "latin.txt"
    latin.write_bytes("a a caf\xe9 0.5\n".encode("latin-1"))
    _raises("is not UTF-8", latin, format="bob4")


def test_spacing_blank_lines_bom_and_crlf_read_the_same(tmp_path):
    """The fast (single separator) and careful (any whitespace) readers agree; line numbers count
    blank lines."""
    s = pd.DataFrame({"search_id": ["s1", "s2"], "identity": ["a", "x"], "g": ["F", "F"]})
    kw = {"searches": s, "gallery": _people().iloc[:2]}
    clean = tmp_path / "clean.txt"
    clean.write_text("searchId candidateRank isAssigned templateId score\ns1 0 1 a 0.5\ns1 1 1 b 0.25\n"
                     "s2 0 1 b 0.125\ns2 1 0  0\n")
    messy = tmp_path / "messy.txt"
    messy.write_bytes("\ufeffsearchId\tcandidateRank isAssigned  templateId score\r\n\r\ns1  0 1 a\t0.5\r\n"
                      "s1 1 1 b 0.25 \r\n\r\ns2 0 1 b 0.125\r\ns2 1 0 0\r\n".encode("utf-8"))
    a, b = read_candidates(clean, **kw), read_candidates(messy, **kw)
    pd.testing.assert_frame_equal(a.candidates, b.candidates)
    assert a.notes[1:] == b.notes[1:]
    bad = tmp_path / "bad.csv"
    bad.write_text("search_id,rank,candidate,score\n\ns1,1,a,0.5\n\ns1,2,b,high\n")
    _raises("line 5: column 'score' 'high'", bad, **kw)
    bob_clean, bob_messy = tmp_path / "b1.txt", tmp_path / "b2.txt"
    bob_clean.write_text("a a p1 0.5\nb a p1 0.25\n")
    bob_messy.write_text("\n a  a\tp1 0.5\n\nb a p1   0.25\n")
    a = read_candidates(bob_clean, attributes=_people())
    b = read_candidates(bob_messy, attributes=_people())
    pd.testing.assert_frame_equal(a.candidates, b.candidates)
    bob_messy.write_text("\na a p1 0.5\n\nb b p1 0.25\n")
    _raises("lines 2 and 4: probe 'p1'", bob_messy, attributes=_people())
