"""Candidate lists returned by a 1:N system (a black box), as :class:`CandidateLists`.

Three tables describe a set of searches:

``candidates``
    one row per returned candidate: ``search_id``, ``candidate`` (the gallery identity returned) and
    ``score`` (higher is more similar). Several rows of one identity in one search (several gallery
    samples) count as one candidate, its best score.
``searches``
    one row per search: ``search_id``, ``identity`` (the probe's true identity) and the probe's
    attributes. A search is *mated* when its identity is enrolled (in ``gallery``).
``gallery``
    one row per enrolled identity: ``identity`` and its attributes (where false positives land).

A mate that is not in its search's list was not returned: it counts against FNIR at every
threshold and rank. Readers of the file layouts (NIST's candidate lists, bob's score files) are in
:mod:`fairaudit.identification.candidate_files`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.groups import make_groups, normalize_by

MISSING_COLUMNS = ("{table}: missing column(s) {missing}; it has {present}. Fix: {fix}")
DUPLICATE_SEARCHES = ("searches: search_id {example!r} appears {count} times (each search is one row). "
                      "Fix: give every search its own search_id.")
UNKNOWN_SEARCH = ("candidates: {count} row(s) name a search_id not in searches (e.g. {example!r}). "
                  "Fix: add those searches to the searches table, or drop their rows.")
UNKNOWN_CANDIDATE = ("candidates: {count} row(s) return an identity that is not in gallery (e.g. {example!r}). "
                     "Fix: list every enrolled identity in the gallery table.")
BAD_SCORES = ("candidates: {count} score(s) are missing or not finite (e.g. row {row}). Fix: give every "
              "candidate a finite score, or drop the row.")
CONFLICTING_ATTRIBUTES = ("identity {identity!r} has {column}={a!r} in one table and {b!r} in another. Fix: "
                          "give each identity one value of every attribute.")
MISSING_IDENTITY = ("searches: {count} search(es) have no identity (e.g. search_id {example!r}). Fix: give "
                    "every search the probe's true identity (non-mated searches too: any identity that is "
                    "not enrolled).")


def _require(frame: pd.DataFrame, table: str, columns, fix: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise errors.FairauditInputError(MISSING_COLUMNS.format(table=table, missing=missing,
                                                                present=list(frame.columns), fix=fix))


def _isin(values: pd.Series, allowed: pd.Series) -> pd.Series:
    """``values.isin(allowed)`` through a Python set (pandas' Arrow-backed strings test membership
    element by element, far slower on millions of candidate rows)."""
    known = set(allowed.tolist())
    return pd.Series(np.fromiter((v in known for v in values.tolist()), dtype=bool, count=len(values)),
                     index=values.index)


class CandidateLists:
    """The searches of a 1:N system and the candidates it returned (see the module docstring).

    Parameters
    ----------
    candidates, searches, gallery : DataFrame
        The three tables; extra columns are kept (attributes of ``searches`` and ``gallery``).
    source : str
        Where they came from (recorded in the result's ``protocol``).
    notes : sequence of str
        Remarks on how the lists were read (e.g. scores derived from ranks); the audit adds them to
        its result's ``notes``.
    """

    def __init__(self, candidates: pd.DataFrame, searches: pd.DataFrame, gallery: pd.DataFrame, *,
                 source: str = "memory", notes=()):
        _require(candidates, "candidates", ("search_id", "candidate", "score"),
                 "name the columns search_id, candidate, score.")
        _require(searches, "searches", ("search_id", "identity"), "name the columns search_id, identity.")
        _require(gallery, "gallery", ("identity",), "name the column of enrolled identities identity.")
        self.searches = searches.reset_index(drop=True).copy()
        self.searches["search_id"] = self.searches["search_id"].astype(str)
        ident = self.searches["identity"]
        empty = ident.isna() | (ident.astype(str).str.strip() == "")
        if empty.any():
            raise errors.FairauditInputError(MISSING_IDENTITY.format(
                count=int(empty.sum()), example=self.searches.loc[empty, "search_id"].iloc[0]))
        self.searches["identity"] = ident.astype(str)
        dup = self.searches["search_id"].duplicated(keep=False)
        if dup.any():
            example = self.searches.loc[dup, "search_id"].iloc[0]
            raise errors.FairauditInputError(DUPLICATE_SEARCHES.format(
                example=example, count=int((self.searches["search_id"] == example).sum())))
        self.gallery = gallery.drop_duplicates().reset_index(drop=True).copy()
        self.gallery["identity"] = self.gallery["identity"].astype(str)
        cand = candidates.reset_index(drop=True).copy()
        cand["search_id"] = cand["search_id"].astype(str)
        cand["candidate"] = cand["candidate"].astype(str)
        scores = pd.to_numeric(cand["score"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(scores)
        if bad.any():
            raise errors.FairauditInputError(BAD_SCORES.format(count=int(bad.sum()), row=int(np.flatnonzero(bad)[0])))
        cand["score"] = scores
        unknown = ~_isin(cand["search_id"], self.searches["search_id"])
        if unknown.any():
            raise errors.FairauditInputError(UNKNOWN_SEARCH.format(
                count=int(unknown.sum()), example=cand.loc[unknown, "search_id"].iloc[0]))
        stranger = ~_isin(cand["candidate"], self.gallery["identity"])
        if stranger.any():
            raise errors.FairauditInputError(UNKNOWN_CANDIDATE.format(
                count=int(stranger.sum()), example=cand.loc[stranger, "candidate"].iloc[0]))
        self.candidates = cand
        self.source = str(source)
        self.notes = [notes] if isinstance(notes, str) else [str(n) for n in notes]

    @property
    def attribute_names(self) -> list[str]:
        """Attributes present in both the searches and the gallery tables."""
        return [c for c in self.searches.columns if c not in ("search_id", "identity")
                and c in self.gallery.columns]

    def resolve_by(self, by) -> tuple[str, ...]:
        return normalize_by(by, self.attribute_names)

    def __len__(self) -> int:
        return len(self.searches)

    def __repr__(self) -> str:
        return (f"CandidateLists({len(self.searches):,} searches, {len(self.candidates):,} candidates, "
                f"{self.gallery['identity'].nunique():,} enrolled identities)")

    def _identity_table(self, by: tuple[str, ...]) -> pd.DataFrame:
        """One row per identity (probes' and enrolled), its ``by`` attributes; conflicts raise."""
        parts = [self.searches[["identity", *by]], self.gallery[["identity", *by]]]
        table = pd.concat(parts, ignore_index=True).astype(str).drop_duplicates()
        dup = table["identity"].duplicated(keep=False)
        if dup.any():
            first = table.loc[dup, "identity"].iloc[0]
            rows = table[table["identity"] == first]
            for column in by:
                values = rows[column].unique()
                if len(values) > 1:
                    raise errors.FairauditInputError(CONFLICTING_ATTRIBUTES.format(
                        identity=first, column=column, a=values[0], b=values[1]))
        return table.sort_values("identity").reset_index(drop=True)

    def search_stats(self, by: tuple[str, ...], *, k: int):
        """The :class:`~fairaudit.identification.search.SearchStats` of these lists."""
        from fairaudit.identification.search import SearchStats

        table = self._identity_table(by)
        names = table["identity"].to_numpy().astype(str)
        groups = make_groups({c: table[c].to_numpy() for c in by}, by)
        lookup = pd.Index(names)
        probe_ident = lookup.get_indexer(self.searches["identity"])
        enrolled_names = self.gallery["identity"].unique()
        enrolled = np.sort(lookup.get_indexer(enrolled_names))
        is_enrolled = np.zeros(len(names), dtype=bool)
        is_enrolled[enrolled] = True
        mated = is_enrolled[probe_ident]
        n_p = len(self.searches)
        p = pd.Index(self.searches["search_id"]).get_indexer(self.candidates["search_id"])
        c = lookup.get_indexer(self.candidates["candidate"])
        s = self.candidates["score"].to_numpy(dtype=np.float64)
        order = np.lexsort((c, -s, p))  # by search, best score first, then identity code
        p, c, s = p[order], c[order], s[order]
        first = np.ones(len(p), dtype=bool)  # the best row of each (search, identity)
        if len(p):
            key = pd.MultiIndex.from_arrays([p, c])
            first = ~key.duplicated(keep="first")
        p, c, s = p[first], c[first], s[first]
        is_mate = c == probe_ident[p]
        mate_score = np.full(n_p, np.nan)
        mate_score[p[is_mate]] = s[is_mate]
        p, c, s = p[~is_mate], c[~is_mate], s[~is_mate]
        starts = np.r_[0, np.flatnonzero(np.diff(p)) + 1] if len(p) else np.zeros(0, dtype=np.int64)
        position = np.arange(len(p)) - np.repeat(starts, np.diff(np.r_[starts, len(p)]))
        keep = position < k
        top_score = np.full((n_p, k), -np.inf)
        top_identity = np.full((n_p, k), -1, dtype=np.int64)
        top_score[p[keep], position[keep]] = s[keep]
        top_identity[p[keep], position[keep]] = c[keep]
        samples = self.gallery.groupby("identity").size()
        return SearchStats(
            identity_names=names, groups=groups,
            probe_identity=probe_ident.astype(np.int64),
            probe_group=groups.codes[probe_ident].astype(np.int64),
            mated=mated, mate_score=mate_score, top_score=top_score, top_identity=top_identity,
            level_best=None, gallery_identity=enrolled.astype(np.int64),
            gallery_samples=samples.reindex(names[enrolled]).to_numpy(dtype=np.int64),
            gallery_level=None, k=int(k), route="candidates",
        )
