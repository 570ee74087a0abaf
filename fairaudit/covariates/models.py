"""The tables the covariate audit's regressions are fitted to, and the fits.

* **Genuine pairs** (one row each): ``false_non_match`` (0/1), the pair's group, its identity (the
  cluster), and per covariate the pair's values: a numeric covariate gives its **lower** value of
  the two samples and the **gap** between them; a categorical one the level both samples share, or
  "mixed".
* **Impostor comparisons within each group**, aggregated (no list of them exists): samples are put
  in joint bins of all covariates, and every cell of two joint bins of one group gives the number of
  comparisons and of false matches. A numeric covariate enters as the lower of the two bins' codes
  and the distance between them (in bins); a categorical one as the shared level or "mixed".
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.covariates.bins import CovariateBins, cell_index


def _genuine_frame(gen, fnm, gen_group, labels, cov_bins: Mapping[str, CovariateBins]):
    frame = {"false_non_match": fnm.astype(np.int64), "group": np.asarray(labels, dtype=object)[gen_group],
             "identity": gen.identity}
    kinds: dict[str, str] = {}
    names: dict[str, str] = {}
    for name, cb in cov_bins.items():
        if cb.kind == "numeric":
            va, vb = cb.values[gen.a], cb.values[gen.b]
            for col, values, words in ((f"{name} (lower)", np.minimum(va, vb), f"the lower {name} of the pair"),
                                       (f"{name} (gap)", np.abs(va - vb), f"the {name} gap")):
                frame[col], kinds[col], names[col] = values, "numeric", words
        else:
            col = f"{name} (pair)"
            levels = np.asarray(cb.pair_labels(), dtype=object)
            frame[col], kinds[col], names[col] = levels[cb.pair_codes(gen.a, gen.b)], "categorical", name
    return pd.DataFrame(frame), kinds, names


def _impostor_frame(cov_bins, labels, max_joint_bins: int, count):
    """The impostor regression's cells: ``((frame, kinds), None)`` or ``(None, why not)``.
    ``count(g, joint, cells)`` gives the false matches and the comparisons of group ``g`` in every
    unordered cell of joint bins, for ``joint`` the joint bin of every sample and ``cells`` the
    ``(n_joint, n_joint)`` cell index."""
    sizes = [cb.n_bins for cb in cov_bins.values()]
    n_joint = int(np.prod(sizes))
    if n_joint > max_joint_bins:
        return None, (f"The impostor regression was not fitted: the covariates' joint bins ({n_joint}) exceed "
                      f"{max_joint_bins}; audit fewer covariates at a time or use fewer bins.")
    strides = np.cumprod([1] + sizes[:-1])
    joint = sum(cb.codes * s for cb, s in zip(cov_bins.values(), strides))
    decode = np.stack([(np.arange(n_joint) // s) % k for s, k in zip(strides, sizes)], axis=1)
    cidx = cell_index(n_joint)
    ti, tj = np.triu_indices(n_joint)
    rows = []
    for g, label in enumerate(labels):
        num, den = count(g, joint, cidx)
        for c in np.flatnonzero(den > 0):
            row: dict[str, Any] = {"false_matches": int(round(num[c])), "comparisons": int(round(den[c])),
                                   "group": label}
            for k, (name, cb) in enumerate(cov_bins.items()):
                a, b = int(decode[ti[c], k]), int(decode[tj[c], k])
                if cb.kind == "numeric":
                    row[f"{name} (lower bin)"] = float(min(a, b))
                    row[f"{name} (bins apart)"] = float(abs(a - b))
                else:
                    row[f"{name} (pair)"] = cb.pair_labels()[a if a == b else cb.n_bins]
            rows.append(row)
    if not rows:
        return None, ("The regression of false matches was not fitted: no group has impostor comparisons "
                      "within it (every group has a single identity).")
    frame = pd.DataFrame(rows)
    kinds = {c: ("categorical" if c.endswith("(pair)") else "numeric") for c in frame.columns
             if c not in ("false_matches", "comparisons", "group")}
    return (frame, kinds), None


def all_pairs_counter(ident: np.ndarray, ident_group: np.ndarray, fm_a: np.ndarray, fm_b: np.ndarray):
    """``count`` of :func:`_impostor_frame` for all pairs of samples: the comparisons from the samples
    per identity and joint bin, the false matches from their list (rows ``fm_a``, ``fm_b``)."""
    from fairaudit.covariates.tables import impostor_cells

    ia, ib = ident[fm_a], ident[fm_b]

    def count(g, joint, cidx):
        members = np.flatnonzero(ident_group == g)
        local = np.full(len(ident_group), -1)
        local[members] = np.arange(members.size)
        mine = ident_group[ident] == g
        counts = np.zeros((members.size, cidx.shape[0]))
        np.add.at(counts, (local[ident[mine]], joint[mine]), 1.0)
        keep = (ident_group[ia] == g) & (ident_group[ib] == g)
        num, den = impostor_cells(np.ones((1, members.size)), counts, local[ia[keep]], local[ib[keep]],
                                  cidx[joint[fm_a[keep]], joint[fm_b[keep]]])
        return num[0], den[0]

    return count


def listed_counter(imp_a: np.ndarray, imp_b: np.ndarray, fm: np.ndarray, group_a: np.ndarray,
                   group_b: np.ndarray):
    """``count`` of :func:`_impostor_frame` for listed impostor comparisons (samples ``imp_a``,
    ``imp_b``; ``fm`` whether each is a false match; the groups of both sides)."""
    def count(g, joint, cidx):
        cell = cidx[joint[imp_a], joint[imp_b]]
        keep = (group_a == g) & (group_b == g)
        n_cells = cidx.shape[0] * (cidx.shape[0] + 1) // 2
        return (np.bincount(cell[keep & fm], minlength=n_cells).astype(float),
                np.bincount(cell[keep], minlength=n_cells).astype(float))

    return count


def fit_models(*, gen, fnm, gen_group, labels, cov_bins, count=None, max_joint_bins: int,
               ci: float) -> tuple[dict | None, list[str]]:
    """Both regressions as plain dicts (``{"genuine": ..., "impostor": ...}``) and the notes;
    ``count`` (see :func:`_impostor_frame`; None: no impostor regression) counts the impostor cells."""
    from fairaudit.common.errors import FairauditInputError
    from fairaudit.covariates.regression import gap_models

    notes: list[str] = []
    out: dict[str, Any] = {}
    if len(labels) < 2:
        return None, ["The regressions need two groups or more: none was fitted."]
    frame, fkinds, names = _genuine_frame(gen, fnm, gen_group, labels, cov_bins)
    try:
        model = gap_models(frame, outcome="false_non_match", group="group", covariates=list(fkinds),
                           cluster="identity", kinds=fkinds, alpha=1.0 - ci, labels=names)
        out["genuine"] = {**model.to_dict(), "sentences": model.sentences()}
    except FairauditInputError as exc:
        notes.append(f"The regression of false non-matches was not fitted: {exc}")
    if count is not None:
        built, why = _impostor_frame(cov_bins, labels, max_joint_bins, count)
        if why:
            notes.append(why)
        else:
            iframe, ikinds = built
            try:
                model = gap_models(iframe, outcome="false_matches", trials="comparisons", group="group",
                                   covariates=list(ikinds), kinds=ikinds, alpha=1.0 - ci)
                out["impostor"] = {**model.to_dict(), "sentences": model.sentences()}
            except FairauditInputError as exc:
                notes.append(f"The regression of false matches was not fitted: {exc}")
    return (out or None), notes
