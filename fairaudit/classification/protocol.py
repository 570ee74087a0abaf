"""The reference study's classification protocol, rerun without its leakage
(:func:`run_study_protocol`): per-group, pooled, six-class and biased-mixture audits that share
their seeds and test sets, plus the embedding diagnostics."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from fairaudit.data import EmbeddingSet
from fairaudit.classification.labels import _labels
from fairaudit.classification.seeds import _resolve_seed, _seed_streams, derive_seeds
from fairaudit.classification.strategies import Mixture, MixtureSweep, _cells
from fairaudit.classification.test_sets import choose_test_set

#: the study's biased training mixes (task 2.6)
STUDY_MIXTURES = (
    ("B60-A30-N10", {"B": 0.6, "A": 0.3, "N": 0.1}),
    ("N80-A20-B0", {"N": 0.8, "A": 0.2, "B": 0.0}),
)


def _protocol_mixture_size(data: EmbeddingSet, mixtures: Sequence[Mixture], *, target: str, by: str,
                           test_size: float, random_state: Any, n_seeds: int) -> int:
    """The largest training size every mixture can fill for every seed."""
    y = _labels(data, (target,), classes=True)
    g = _labels(data, (by,))
    ids = np.asarray(data.identity).astype(str)
    _, seeds = derive_seeds(random_state, n_seeds)
    best = None
    for seed in seeds:
        test_rng, _, _ = _seed_streams(seed)
        test = choose_test_set(g, y, ids, test_size=test_size, rng=test_rng, by_name=by, target_name=target)
        cells = _cells(np.setdiff1d(np.arange(len(data)), test), g, y)
        for m in mixtures:
            s = m.max_size(cells)
            best = s if best is None else min(best, s)
    return int(best)


def run_study_protocol(
    data: EmbeddingSet,
    *,
    head: Any = "logistic",
    n_seeds: int = 3,
    random_state: int | None = 0,
    mixture_size: int | None = None,
    target: str = "gender",
    by: str = "ethnicity",
    test_size: float = 0.33,
    diagnostics: bool = True,
    diagnostics_per_group: int | None = 350,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Rerun the reference study's classification protocol, without its leakage.

    All audits share ``random_state`` and therefore, seed by seed, the same
    identity-disjoint test set, so their tables can be compared directly.

    Parameters
    ----------
    data : EmbeddingSet
        Needs the attributes ``target`` and ``by``; the mixtures name the
        DiveFace ethnicities ``B``, ``A`` and ``N``.
    head : str or estimator, default "logistic"
    n_seeds : int, default 3
    random_state : int, default 0
    mixture_size : int, optional
        Training rows of each biased model. None: the largest size that both
        mixtures can fill for every seed (the study used 3000, which a
        leakage-free split of 750 identities per group cannot supply).
    target, by : str
        ``"gender"`` and ``"ethnicity"`` in the study.
    test_size : float, default 0.33
    diagnostics : bool, default True
        Also run :func:`fairaudit.diagnostics.embedding_diagnostics` (t-SNE
        and the demographic probe, task 1.3).
    diagnostics_per_group : int or None, default 350
        Diagnose a stratified subsample of this many samples per
        ``target`` x ``by`` group on average (the study mapped 350 per group,
        task 1.2); None: all samples.
    progress : bool or None

    Returns
    -------
    dict
        ``"per_group"`` (tasks 2.1-2.2: a model per ``by`` group, cross
        evaluated), ``"pooled"`` (2.3-2.4: one balanced model on all groups),
        ``"six_class"`` (2.5: ``target & by`` classes, pooled),
        ``"mixtures"`` (2.6: :data:`STUDY_MIXTURES`), each a
        :class:`ClassificationResult`; ``"diagnostics"`` (a
        ``DiagnosticsResult`` or None); ``"mixture_size"`` (int); ``"timings"``
        (seconds per part).
    """
    from fairaudit.classification.audit import classification_audit

    root = _resolve_seed(random_state)
    common = dict(head=head, n_seeds=n_seeds, test_size=test_size, random_state=root,
                  progress=progress)
    timings: dict[str, float] = {}
    out: dict[str, Any] = {}

    def timed(name: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out[name] = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - t0, 3)

    timed("per_group", classification_audit, data, target=target, by=by, split="per-group", **common)
    timed("pooled", classification_audit, data, target=target, by=by, split="pooled", **common)
    timed("six_class", classification_audit, data, target=[target, by], by=by, split="pooled", **common)
    mixtures = [Mixture(p, mixture_size, name=name) for name, p in STUDY_MIXTURES]
    if mixture_size is None:
        size = _protocol_mixture_size(data, mixtures, target=target, by=by, test_size=test_size,
                                      random_state=root, n_seeds=n_seeds)
        mixtures = [m.with_size(size) for m in mixtures]
    else:
        size = int(mixture_size)
    out["mixture_size"] = size
    timed("mixtures", classification_audit, data, target=target, by=by, split=MixtureSweep(mixtures), **common)
    if diagnostics:
        from fairaudit.diagnostics import embedding_diagnostics

        n_groups = len(np.unique(_labels(data, (target, by))))
        n_diag = None if diagnostics_per_group is None else int(diagnostics_per_group) * n_groups
        timed("diagnostics", embedding_diagnostics, data, by=[target, by], n_samples=n_diag,
              random_state=root)
    else:
        out["diagnostics"] = None
    out["timings"] = timings
    return out
