"""Time and peak memory of ``identification_audit`` against the bare probes x gallery product.

Target (issue 15): a gallery of 100,000 x 512 searched by 10,000 probes (half mated, half
non-mated): the audit, bootstrap and comparisons included, costs at most 1.0 x one bare float32
``probes @ gallery.T`` (which holds the 10,000 x 100,000 score matrix, 4 GB, and nothing else), and
its peak memory stays under 1 GB.

Both run in this process, one after the other, best of ``--repeat``; peak memory is measured with
tracemalloc (numpy's allocations) in a separate run, with the EmbeddingSet already in memory.

Usage: python benchmarks/identification.py [--gallery 100000] [--probes 10000] [--dim 512] [--repeat 2]
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc

import numpy as np

import fairaudit
from fairaudit.common.provenance import blas_info


def population(n_gallery: int, n_probes: int, d: int, seed: int = 0):
    """One gallery sample per identity; the mated probes are second samples of the first identities,
    the non-mated probes samples of identities outside the gallery. Six groups."""
    rng = np.random.default_rng(seed)
    n_mated = n_probes // 2
    n_ids = n_gallery + (n_probes - n_mated)
    centres = rng.standard_normal((n_ids, d), dtype=np.float32)
    owner = np.r_[np.arange(n_gallery), np.arange(n_mated), n_gallery + np.arange(n_probes - n_mated)]
    x = centres[owner] + np.float32(0.8) * rng.standard_normal((len(owner), d), dtype=np.float32)
    groups = np.array(["HA", "HB", "HN", "MA", "MB", "MN"])[owner % 6]
    roles = np.r_[np.full(n_gallery, "gallery"), np.full(n_probes, "probe")]
    es = fairaudit.EmbeddingSet(x, identity=owner.astype(str), attributes={"group": groups})
    return es, roles


def bare_product(es, roles) -> None:
    x = es.normalized()
    gallery = x[roles == "gallery"]
    probes = x[roles == "probe"]
    s = probes @ gallery.T
    del s


def audit(es, roles) -> None:
    fairaudit.identification_audit(es, by="group", gallery=roles, progress=False)


def timed(fn, *args, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t)
    return best


def peak_mb(fn, *args) -> float:
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(*args)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gallery", type=int, default=100_000)
    parser.add_argument("--probes", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    print("BLAS:", blas_info())
    es, roles = population(args.gallery, args.probes, args.dim)
    small = population(2000, 200, args.dim, seed=1)
    audit(*small)  # compile the kernels before timing
    bare_product(*small)
    t_bare = timed(bare_product, es, roles, repeat=args.repeat)
    t_audit = timed(audit, es, roles, repeat=args.repeat)
    m_audit = peak_mb(audit, es, roles)
    m_bare = peak_mb(bare_product, es, roles)
    print(f"\ngallery {args.gallery:,} x {args.dim}, {args.probes:,} probes "
          f"({args.probes * args.gallery:,} comparisons)")
    print(f"  bare probes x gallery product  {t_bare:8.2f} s   peak {m_bare:8.0f} MB")
    print(f"  identification_audit           {t_audit:8.2f} s   peak {m_audit:8.0f} MB")
    print(f"  ratio audit / bare product time: {t_audit / t_bare:.2f}  (target <= 1.00)")
    print(f"  audit peak memory: {m_audit:.0f} MB  (target < 1024 MB)")


if __name__ == "__main__":
    main()
