"""The parsers of :func:`fairaudit.identification.read_candidates`: NIST FRTE 1:N candidate lists and
bob's 4- and 5-column score files (layouts: :mod:`fairaudit.identification.candidate_files`)."""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.score_files.text import _clip, _number_problem, _parse_score
from fairaudit.identification.candidate_tables import (IDENTITIES_MISSING, NEEDS_TABLE, _IDENTITY, _SEARCH_ID,
                                                       _attach, _find, _header_fields, _identity_table, _isin,
                                                       _key, _keyed, _lines, _merge_people, _no_missing, _table)
from fairaudit.identification.candidates import CandidateLists

_BOB_LAYOUT = {4: "claimed_id real_id probe_label score", 5: "claimed_id model_label real_id probe_label score"}

NO_ROWS = (
    "the file has a header ({header}) but no candidate row. Fix: check that the program that wrote it "
    "finished; a system that returned no candidate for any search still writes NIST's placeholder rows."
)
LINE_FIELDS = (
    "line {line}: expected {expected} {sep} fields ({layout}), found {found}: {content!r}. Fix: correct "
    "or remove that line; fairaudit never skips bad lines silently.{hint}"
)
LINE_FIELDS_OTHER = " If every line has {found} fields, the file is {other}: pass format={other!r}."
LINE_HEADER = (
    " It looks like a header, and bob's score files have none: remove that line (or pass format='nist' "
    "if it is a NIST candidate list)."
)
LINE_VALUE = (
    "line {line}: {column} {value!r} {problem}: {content!r}. Fix: correct or remove that line; fairaudit "
    "never skips bad lines silently.{hint}"
)
NIST_NO_HEADER = (
    "the first line {first!r} is not a NIST candidate-list header: a header names the search "
    "(search_id, searchId or probe), the candidate (candidate, subjectId or templateId) and its score "
    "(score, similarity) or rank (rank, candidateRank); {found}. Fix: add a header line such as "
    "'search_id,rank,candidate,score', or pass format='bob4'/'bob5' for a bob score file."
)
NIST_DUPLICATE_RANK = (
    "lines {first} and {second} both give search {search!r} rank {rank}: {a!r} and {b!r}. Fix: give "
    "every candidate of a search its own rank."
)
NIST_SCORE_ORDER = (
    "search {search!r} lists rank {rank_b} (line {line_b}, score {score_b!r}) with a higher score than "
    "rank {rank_a} (line {line_a}, score {score_a!r}): candidate lists run from the most to the least "
    "similar, so the scores must not increase with the rank. Fix: if the system reports distances "
    "(lower = more similar), convert them to similarities (e.g. score = -distance) before reading."
)
SEARCH_NOT_LISTED = (
    "line {line}: search {search!r} is not in searches ({count} row(s) name searches that it lacks). "
    "Fix: add those searches (search_id, identity and attributes) to searches."
)
CANDIDATE_NOT_ENROLLED = (
    "line {line}: candidate {candidate!r} is not in gallery ({count} row(s) return identities it "
    "lacks). Fix: list every enrolled identity in gallery (a file of template ids needs its candidate "
    "column mapped to identities first)."
)
SEARCH_IDENTITY_DISAGREES = (
    "searches: search {search!r} has identity {table!r}, but line {line} gives its probe real_id "
    "{file!r}. Fix: correct one of them."
)
SEARCH_ROW_MISSING = (
    "searches: no row for the search (probe_label) {search!r} of line {line} ({count} probe label(s) lack "
    "one). Fix: give every probe_label a row, or pass an identity table (without search_id) instead."
)
SEARCH_COLUMNS_CLASH = (
    "searches: column(s) {columns} are also attributes in the identity tables. Fix: keep each attribute in "
    "one table."
)
SEARCH_TWO_IDENTITIES = (
    "lines {first} and {second}: probe {search!r} has real_id {a!r} and {b!r}; a probe_label is one "
    "search, of one person. Fix: give each probe its own probe_label."
)

_NIST_ROLES = {  # normalised header names, in order of preference
    "search_id": ("searchid", "probe", "probeid"),
    "candidate": ("candidate", "candidateid", "subjectid", "templateid"),
    "score": ("score", "similarity", "similarityscore"),
    "rank": ("rank", "candidaterank"),
    "assigned": ("isassigned",),
    "retcode": ("searchretcode", "retcode", "returncode"),
}
def _read_nist(path: Path, searches: Any, gallery: Any, attributes: Any) -> CandidateLists:
    header, col, unused, comma = _nist_header(path)
    fast = _nist_arrow(path, header, col, comma)
    cols, line = fast if fast is not None else _nist_lines(path, header, col, comma)
    n_rows = len(cols["search_id"])
    if not n_rows:
        raise errors.FairauditInputError(NO_ROWS.format(header=", ".join(header)))
    content = _content_lookup(path)

    def fail(bad: np.ndarray, role: str, problem: str) -> None:
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            count = int(bad.sum())
            more = f" ({count:,} such row(s) in the file)" if count > 1 else ""
            raise errors.FairauditInputError(LINE_VALUE.format(
                line=line(i), column=f"column {header[col[role]]!r}", value=_clip(str(cols[role][i]), 40),
                problem=problem + more, content=_clip(content(line(i))), hint=""))

    notes: list[str] = [f"Column(s) {unused} of the candidate file are not used."] if unused else []
    assigned = np.ones(n_rows, dtype=bool)
    if "assigned" in cols:
        flags = np.array([v.lower() for v in cols["assigned"]], dtype=object)
        fail(~_isin(flags, ("0", "1", "true", "false")), "assigned", "is not 0 or 1")
        assigned = _isin(flags, ("1", "true"))
    search = cols["search_id"]
    fail(search == "", "search_id", "is empty")
    cand = cols["candidate"]
    fail(assigned & (cand == ""), "candidate", "is empty (an assigned candidate needs an identity)")
    rank = None
    if "rank" in cols:
        rank = _nist_ranks(cols["rank"], fail)
    if "score" in cols:
        score = _nist_scores(cols["score"], assigned, fail)
    else:
        score = -rank.astype(np.float64)
        notes.append("The candidate file has ranks but no scores: each candidate's score is minus its rank, so "
                     "only the order counts; a threshold t returns the candidates at rank <= -t (e.g. "
                     "threshold=-1 keeps rank 1 with NIST's 1-based ranks, threshold=0 with 0-based ones).")
    if rank is not None:
        _check_ranks(search, rank, score, assigned, line, content)
    n_placeholder = int((~assigned).sum())
    if n_placeholder:
        notes.append(f"{n_placeholder:,} row(s) have isAssigned=0 (NIST's placeholders for candidate slots the "
                     "system left empty): they are not candidates.")
    if "retcode" in cols:
        failed = len(set(search[~_isin(cols["retcode"], ("0", ""))]))
        if failed:
            notes.append(f"{failed:,} search(es) report a non-zero searchRetCode (the search failed); the "
                         "candidates they list, if any, are used as listed: a failed mated search with no candidate "
                         "counts as a miss, a failed non-mated one as a correct rejection.")
    s_tab, g_tab = _nist_tables(searches, gallery, attributes)
    known = set(s_tab["search_id"].astype(str))
    unknown = ~_isin(search, known)
    if unknown.any():
        i = int(np.flatnonzero(unknown)[0])
        raise errors.FairauditInputError(SEARCH_NOT_LISTED.format(line=line(i), search=search[i],
                                                                  count=int(unknown.sum())))
    stranger = assigned & ~_isin(cand, set(g_tab["identity"]))
    if stranger.any():
        i = int(np.flatnonzero(stranger)[0])
        raise errors.FairauditInputError(CANDIDATE_NOT_ENROLLED.format(line=line(i), candidate=cand[i],
                                                                       count=int(stranger.sum())))
    table = pd.DataFrame({"search_id": search[assigned], "candidate": cand[assigned], "score": score[assigned]})
    if rank is not None:
        table["rank"] = rank[assigned]
    silent = len(known - set(search))
    if silent:
        notes.append(f"{silent:,} search(es) of the searches table have no row in the candidate file: they "
                     "returned no candidate.")
    notes += _repeat_note(table)
    return CandidateLists(table, s_tab, g_tab, source=f"{path} (nist)", notes=notes)


def _nist_header(path: Path):
    """The header's fields, the column of each role, the unused columns, and whether it is CSV."""
    header_text = next(iter(_lines(path)))[1].lstrip("\ufeff")
    comma = "," in header_text
    header = _header_fields(header_text)
    keys = [_key(h) for h in header]
    col: dict[str, int] = {}
    unused: list[str] = []
    for role, names in _NIST_ROLES.items():
        found = [keys.index(n) for n in names if n in keys]
        if found:
            col[role] = found[0]
            unused += [header[i] for i in found[1:]]
    if "search_id" not in col or "candidate" not in col or ("score" not in col and "rank" not in col):
        lacking = [r for r in ("search_id", "candidate") if r not in col]
        if "score" not in col and "rank" not in col:
            lacking.append("score or rank")
        raise errors.FairauditInputError(NIST_NO_HEADER.format(
            first=_clip(header_text), found=f"it lacks {', '.join(lacking)} (fields: {header})"))
    used = set(col.values())
    unused += [h for i, h in enumerate(header) if i not in used and h not in unused]
    return header, col, unused, comma


def _nist_arrow(path: Path, header, col, comma):
    """Fast path of :func:`_nist_lines` with pyarrow; None when the file needs the careful reader (other
    spacing, a bad line, an empty cell other than an unassigned slot's candidate)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    if len(set(header)) != len(header):
        return None
    names = [f"f{i}" for i in range(len(header))]
    try:
        table = pcsv.read_csv(
            path, read_options=pcsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pcsv.ParseOptions(delimiter="," if comma else " ", quote_char='"' if comma else False),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                strings_can_be_null=False, null_values=[]))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    if _first_is_blank(path):
        return None  # skip_rows counted a blank line as the header
    import pyarrow.compute as pc

    cols = {role: pc.utf8_trim_whitespace(table.column(names[i])).to_numpy(zero_copy_only=False).astype(object)
            for role, i in col.items()}
    empty = np.zeros(table.num_rows, dtype=bool)
    placeholder = cols["assigned"] == "0" if "assigned" in cols else empty
    for role, values in cols.items():
        if ((values == "") & ~(placeholder if role == "candidate" else empty)).any():
            return None
    lines: list[np.ndarray] = []

    def line(row: int) -> int:
        if not lines:
            lines.append(np.array([number for number, _ in _lines(path)][1:], dtype=np.int64))
        return int(lines[0][row])
    return cols, line


def _first_is_blank(path: Path) -> bool:
    with open(path, encoding="utf-8-sig", errors="replace") as fh:
        return not fh.readline().strip()


def _nist_lines(path: Path, header, col, comma):
    """The careful reader: every non-blank line after the header, or an error naming the bad one."""
    n = len(header)
    sep = "comma-separated" if comma else "whitespace-separated"
    layout = ",".join(header) if comma else " ".join(header)
    a_i, c_i = col.get("assigned"), col["candidate"]
    rows, numbers = [], []
    lines = iter(_lines(path))
    next(lines)
    for number, text in lines:
        fields = [f.strip() for f in next(csv.reader([text]))] if comma else text.split()
        if len(fields) == n - 1 and not comma and a_i is not None and a_i < c_i and fields[a_i] == "0":
            fields.insert(c_i, "")  # NIST writes an unassigned slot's empty templateId as nothing
        if len(fields) != n:
            raise errors.FairauditInputError(LINE_FIELDS.format(
                line=number, expected=n, sep=sep, layout=layout, found=len(fields), content=_clip(text), hint=""))
        rows.append(fields)
        numbers.append(number)
    columns = list(zip(*rows)) if rows else [()] * n
    cols = {role: np.asarray(columns[i], dtype=object) for role, i in col.items()}
    return cols, lambda row: numbers[row]


def _nist_ranks(values: np.ndarray, fail) -> np.ndarray:
    """The ranks as int64; one that is not a whole number is an error."""
    whole = re.compile(r"[+-]?\d+")
    try:
        if "_" in "\n".join(values):  # int() would read '1_0' as 10
            raise ValueError
        return values.astype(np.int64)
    except (ValueError, OverflowError):
        fail(np.fromiter((whole.fullmatch(v) is None for v in values), dtype=bool, count=len(values)), "rank",
             "is not a whole number")
        fail(np.array([not -2**63 <= int(v) < 2**63 for v in values]), "rank", "is too large")
        raise


def _nist_scores(values: np.ndarray, assigned: np.ndarray, fail) -> np.ndarray:
    """The scores of the assigned rows as float64 (0 for placeholders); a bad one is an error."""
    values = np.where(assigned, values, "0").astype(object)
    score = None
    if "_" not in "\n".join(values):  # float() would read '0_5' as 5
        try:
            score = values.astype(np.float64)  # Python's float(): exact for every decimal text
        except ValueError:
            pass
    if score is None:
        parsed = [_parse_score(v) for v in values]
        bad = np.array([v is None for v in parsed])
        if bad.any():
            fail(bad, "score", _number_problem(values[int(np.flatnonzero(bad)[0])]))
        score = np.asarray(parsed, dtype=np.float64)
    fail(~np.isfinite(score), "score", "is not finite")
    return score


def _nist_tables(searches: Any, gallery: Any, attributes: Any):
    s_tab = _table(searches, "searches", "{'search_id': [...], 'identity': [...], 'gender': [...]}")
    if s_tab is None:
        raise errors.FairauditInputError(NEEDS_TABLE.format(
            name="searches", format="NIST", what="whose face each search was (the probe's identity)",
            columns="search_id, identity and the probe's attributes"))
    s_tab = _keyed(s_tab, "searches", "search_id", _SEARCH_ID, "name the column of searches 'search_id'.",
                   index_ok=False)
    s_tab = _keyed(s_tab, "searches", "identity", _IDENTITY,
                   "name the column of the probe's true identity 'identity'.", index_ok=False)
    g_tab = _identity_table(gallery, "gallery")
    if g_tab is None:
        raise errors.FairauditInputError(NEEDS_TABLE.format(
            name="gallery", format="NIST", what="which identities are enrolled (it decides which searches are mated)",
            columns="identity and the attributes of every enrolled identity"))
    people = _identity_table(attributes, "attributes")
    s_tab = _attach(s_tab, "searches", people, "attributes", "searches table")
    g_tab = _attach(g_tab, "gallery", people, "attributes", "gallery table")
    _no_missing(s_tab, "searches", s_tab.columns, "search_id")
    return s_tab, g_tab


def _content_lookup(path: Path):
    """A function from line number to the line's text (read again on demand, for messages)."""
    def content(number: int) -> str:
        with open(path, encoding="utf-8-sig", errors="replace") as fh:
            for i, text in enumerate(fh, start=1):
                if i == number:
                    return text.rstrip("\r\n")
        return "<line not found>"
    return content


def _check_ranks(search, rank, score, assigned, line, content) -> None:
    frame = pd.DataFrame({"s": search, "r": rank, "score": score, "a": assigned})
    dup = frame.duplicated(["s", "r"], keep=False).to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        j = int(np.flatnonzero(dup & (search == search[i]) & (rank == rank[i]))[1])
        raise errors.FairauditInputError(NIST_DUPLICATE_RANK.format(
            first=line(i), second=line(j), search=search[i], rank=rank[i],
            a=_clip(content(line(i))), b=_clip(content(line(j)))))
    live = frame[frame["a"]].sort_values(["s", "r"], kind="stable")
    same = live["s"].to_numpy()[1:] == live["s"].to_numpy()[:-1]
    rises = same & (live["score"].to_numpy()[1:] > live["score"].to_numpy()[:-1])
    if rises.any():
        k = int(np.flatnonzero(rises)[0])
        i, j = int(live.index[k]), int(live.index[k + 1])
        raise errors.FairauditInputError(NIST_SCORE_ORDER.format(
            search=search[i], rank_a=rank[i], rank_b=rank[j], line_a=line(i), line_b=line(j),
            score_a=float(score[i]), score_b=float(score[j])))


def _repeat_note(table: pd.DataFrame) -> list[str]:
    repeats = int(table.duplicated(["search_id", "candidate"]).sum())
    if not repeats:
        return []
    return [f"{repeats:,} row(s) repeat an identity already listed for the same search (several gallery samples "
            "or models of one person): each identity is one candidate per search, with its best score."]


def _read_bob(path: Path, ncols: int, searches: Any, gallery: Any, attributes: Any) -> CandidateLists:
    from fairaudit.data.score_files.bob_text import _read_text_arrow

    fast = _read_text_arrow(path, ncols)
    if fast is not None:
        labels, scores = fast
        labels = [np.asarray(c, dtype=object) for c in labels]
    else:
        labels, scores = _bob_slow(path, ncols)
    claimed = labels[0]
    real = labels[1 if ncols == 4 else 2]
    probe = labels[-1]
    row_line = _row_lines(path)
    frame = pd.DataFrame({"search_id": probe, "identity": real})
    first_of = frame.drop_duplicates()
    two = first_of["search_id"].duplicated(keep=False)
    if two.any():
        sid = first_of.loc[two, "search_id"].iloc[0]
        rows = first_of[first_of["search_id"] == sid].index[:2]
        raise errors.FairauditInputError(SEARCH_TWO_IDENTITIES.format(
            first=row_line(int(rows[0])), second=row_line(int(rows[1])), search=sid,
            a=real[rows[0]], b=real[rows[1]]))
    s_tab = first_of.reset_index(drop=True)
    g_ids = pd.unique(claimed)
    if ncols == 5:  # one gallery row per model: the gallery table counts them as the identity's samples
        g_tab = pd.DataFrame({"identity": claimed, "model_label": labels[1]}).drop_duplicates()
        g_tab = g_tab.reset_index(drop=True)
    else:
        g_tab = pd.DataFrame({"identity": g_ids})
    # attribute tables
    tables: list[tuple[str, pd.DataFrame]] = []
    per_search = None
    raw_searches = _table(searches, "searches", "{'identity': [...], 'gender': [...]}")
    if raw_searches is not None:
        if _find(raw_searches, _SEARCH_ID) is not None or _key(raw_searches.index.name or "") in {
                _key(n) for n in _SEARCH_ID}:
            per_search = _keyed(raw_searches, "searches", "search_id", _SEARCH_ID, "", index_ok=False)
        else:
            tables.append(("searches", _identity_table(raw_searches, "searches")))
    for name, value in (("gallery", gallery), ("attributes", attributes)):
        t = _identity_table(value, name)
        if t is not None:
            tables.append((name, t))
    people = _merge_people(tables)
    names = " / ".join(n for n, _ in tables)
    if people is not None:
        for ids, source, where in ((s_tab["identity"], real, "probes (real_id)"),
                                   (g_tab["identity"], claimed, "gallery (claimed_id)")):
            missing = ~_isin(ids, people["identity"])
            if missing.any():
                examples = sorted(ids[missing].unique())
                raise errors.FairauditInputError(IDENTITIES_MISSING.format(
                    count=len(examples), plural="y" if len(examples) == 1 else "ies", where=where,
                    verb="is" if len(examples) == 1 else "are", tables=names, examples=examples[:5],
                    line=row_line(int(np.flatnonzero(source == examples[0])[0]))))
        s_tab = _attach(s_tab, "searches", people, names, "probes (real_id)")
        g_tab = _attach(g_tab, "gallery", people, names, "gallery (claimed_id)")
        _no_missing(s_tab, f"the attributes ({names}) of the probes", s_tab.columns, "identity")
        _no_missing(g_tab, f"the attributes ({names}) of the gallery", g_tab.columns, "identity")
    if per_search is not None:
        unknown = ~_isin(s_tab["search_id"], per_search["search_id"])
        if unknown.any():
            sid = s_tab.loc[unknown, "search_id"].iloc[0]
            raise errors.FairauditInputError(SEARCH_ROW_MISSING.format(
                search=sid, line=row_line(int(np.flatnonzero(probe == sid)[0])), count=int(unknown.sum())))
        if "identity" in per_search.columns:
            check = s_tab.merge(per_search[["search_id", "identity"]], on="search_id", suffixes=("", "_table"))
            check["identity_table"] = check["identity_table"].astype(str).str.strip()
            bad = check["identity"] != check["identity_table"]
            if bad.any():
                row = check[bad].iloc[0]
                raise errors.FairauditInputError(SEARCH_IDENTITY_DISAGREES.format(
                    search=row["search_id"], table=row["identity_table"],
                    line=row_line(int(np.flatnonzero(probe == row["search_id"])[0])), file=row["identity"]))
        extra = [c for c in per_search.columns if c not in ("search_id", "identity")]
        clash = [c for c in extra if c in s_tab.columns]
        if clash:
            raise errors.FairauditInputError(SEARCH_COLUMNS_CLASH.format(columns=clash))
        _no_missing(per_search, "searches", extra, "search_id")
        s_tab = s_tab.merge(per_search[["search_id", *extra]], on="search_id", how="left")
    table = pd.DataFrame({"search_id": probe, "candidate": claimed, "score": scores})
    notes = _repeat_note(table)
    enrolled = set(g_ids)
    mated = _isin(s_tab["identity"], enrolled)
    scored_mate = set(zip(probe[claimed == real], real[claimed == real]))
    no_mate = [sid for sid, ident, m in zip(s_tab["search_id"], s_tab["identity"], mated)
               if m and (sid, ident) not in scored_mate]
    if no_mate:
        notes.append(f"{len(no_mate):,} search(es) are of an enrolled identity but have no score against it (e.g. "
                     f"probe {no_mate[0]!r}): their mate counts as not returned (bob.measure would take them for "
                     "open-set probes).")
    return CandidateLists(table, s_tab, g_tab, source=f"{path} (bob{ncols})", notes=notes)


def _row_lines(path: Path):
    """A function from data row (0-based, blank lines skipped) to its line number."""
    cache: dict[int, int] = {}

    def line(row: int) -> int:
        if row not in cache:
            for i, (number, _) in enumerate(_lines(path)):
                if i == row:
                    cache[row] = number
                    break
            else:
                cache[row] = row + 1
        return cache[row]
    return line


def _bob_slow(path: Path, ncols: int) -> tuple[list[np.ndarray], np.ndarray]:
    """Parse a bob 4- or 5-column file line by line; the first bad line is an error."""
    labels: list[list[str]] = [[] for _ in range(ncols - 1)]
    scores: list[float] = []
    first = True
    for number, text in _lines(path):
        fields = text.lstrip("\ufeff").split()
        if len(fields) != ncols:
            other = 9 - ncols
            hint = LINE_FIELDS_OTHER.format(found=len(fields), other=f"bob{other}") if len(fields) == other else ""
            raise errors.FairauditInputError(LINE_FIELDS.format(
                line=number, expected=ncols, sep="whitespace-separated", layout=_BOB_LAYOUT[ncols],
                found=len(fields), content=_clip(text), hint=hint))
        score = _parse_score(fields[-1])
        if score is None or not math.isfinite(score):
            problem = _number_problem(fields[-1]) if score is None else "is not finite"
            header = first and score is None and any(_key(f) in ("score", "claimedid", "realid") for f in fields)
            raise errors.FairauditInputError(LINE_VALUE.format(
                line=number, column="the score", value=_clip(fields[-1], 40), problem=problem, content=_clip(text),
                hint=LINE_HEADER if header else ""))
        first = False
        for store, value in zip(labels, fields):
            store.append(value)
        scores.append(score)
    return [np.asarray(v, dtype=object) for v in labels], np.asarray(scores, dtype=np.float64)
