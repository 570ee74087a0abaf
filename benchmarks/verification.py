"""Time and peak memory of ``verification_audit`` against two baselines in the same process.

(a) one bare float32 N x N matrix product (it computes every pair twice);
(b) materialised scores: the upper triangle as one array, then scikit-learn's
    ``roc_curve`` per group and pooled (what most scripts do).

Targets (issue 2) at N = 20,000, d = 512, six groups, five samples per identity,
no bootstrap: audit time <= 0.6 x (a) (issue 14; 0.5 is the arithmetic limit, as (a) computes every pair twice), audit peak memory < 1/10 of (b) and
under 600 MB.

Peak memory is measured with tracemalloc, which sees numpy's allocations (not
BLAS's small internal buffers), in a separate run from the timings.

Usage: python benchmarks/verification.py [--sizes 5000 20000] [--skip-materialised]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import numpy as np

import fairaudit
from fairaudit.common.provenance import blas_info


def population(n: int, d: int, seed: int = 0) -> fairaudit.EmbeddingSet:
    rng = np.random.default_rng(seed)
    n_ids = n // 5
    centres = rng.standard_normal((n_ids, d)).astype(np.float32)
    rows = np.repeat(np.arange(n_ids), 5)
    x = centres[rows] + 0.9 * rng.standard_normal((n, d)).astype(np.float32)
    groups = np.array(["HA", "HB", "HN", "MA", "MB", "MN"])[np.arange(n_ids) % 6]
    return fairaudit.EmbeddingSet(x, identity=rows.astype(str), attributes={"group": groups[rows]})


def bare_product(es: fairaudit.EmbeddingSet) -> None:
    x = es.normalized()
    y = x.copy()  # distinct arrays: gemm, not syrk
    s = x @ y.T
    del s


def audit(es: fairaudit.EmbeddingSet) -> None:
    fairaudit.verification_audit(es, by="group", threshold="eer", n_boot=0, progress=False)


def materialised(es: fairaudit.EmbeddingSet) -> None:
    from sklearn.metrics import auc, roc_curve

    x = es.normalized()
    n = len(es)
    s = x @ x.copy().T
    ident = es.identity
    group = es.column("group")
    scores = np.concatenate([s[i, i + 1:] for i in range(n - 1)])
    del s
    same = np.concatenate([ident[i + 1:] == ident[i] for i in range(n - 1)])
    both = np.concatenate([np.where(group[i + 1:] == group[i], group[i], "") for i in range(n - 1)])
    for value in np.unique(group):
        sel = both == value
        fpr, tpr, _ = roc_curve(same[sel], scores[sel])
        auc(fpr, tpr)
    fpr, tpr, _ = roc_curve(same, scores)
    auc(fpr, tpr)


def timed(fn, es, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn(es)
        best = min(best, time.perf_counter() - t)
    return best


def peak_mb(fn, es) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(es)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--skip-materialised", action="store_true")
    args = parser.parse_args()
    print("BLAS:", blas_info())
    for n in args.sizes:
        es = population(n, args.dim)
        bare_product(es)  # warm up BLAS threads
        t_bare = timed(bare_product, es, repeat=2)
        t_audit = timed(audit, es, repeat=2)
        m_audit = peak_mb(audit, es)
        m_bare = peak_mb(bare_product, es)
        print(f"\nN = {n:,}, d = {args.dim}, pairs = {n * (n - 1) // 2:,}")
        print(f"  bare N x N product      {t_bare:8.2f} s   peak {m_bare:8.0f} MB")
        print(f"  verification_audit      {t_audit:8.2f} s   peak {m_audit:8.0f} MB")
        print(f"  ratio audit / bare product time: {t_audit / t_bare:.2f}  (target <= 0.60)")
        if not args.skip_materialised:
            t_mat = timed(materialised, es)
            m_mat = peak_mb(materialised, es)
            print(f"  materialised + roc_curve {t_mat:7.2f} s   peak {m_mat:8.0f} MB")
            print(f"  ratio audit / materialised time:   {t_audit / t_mat:.2f}")
            print(f"  ratio audit / materialised memory: {m_audit / m_mat:.3f}  (target < 0.10, audit < 600 MB)")


if __name__ == "__main__":
    main()
