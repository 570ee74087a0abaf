"""Time of ``covariate_audit`` against the verification audit of the same data, in the same process.

The covariate audit runs the verification audit's first pass (to fix the threshold), lists the false
matches in a second pass over the same tiles, scores the genuine pairs again, bins three covariates,
bootstraps every table and fits the regressions. This script reports each of those as a ratio to
``verification_audit(n_boot=0)`` (one pass) and to the default ``verification_audit`` (bootstrap and
permutations), best of ``--repeat``, so machines can be compared by ratios rather than seconds.

Usage: python benchmarks/covariates.py [--identities 4000] [--samples 5] [--dim 512] [--n-boot 1000] [--repeat 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import fairaudit
from fairaudit.common.provenance import blas_info


def population(n_ids: int, k: int, d: int, seed: int = 0) -> fairaudit.EmbeddingSet:
    """``n_ids`` identities of ``k`` samples in six groups; quality, age and device per sample (quality
    scales the sample noise, so it drives FNMR)."""
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(n_ids), k)
    quality = rng.beta(4, 2, size=owner.size)
    centres = rng.standard_normal((n_ids, d), dtype=np.float32)
    noise = rng.standard_normal((owner.size, d), dtype=np.float32)
    x = centres[owner] + (np.float32(0.6) + np.float32(0.8) * (1 - quality[:, None]).astype(np.float32)) * noise
    groups = np.array(["HA", "HB", "HN", "MA", "MB", "MN"])[owner % 6]
    age = rng.uniform(18, 70, n_ids)[owner] + rng.uniform(0, 10, owner.size)
    device = rng.choice(["kiosk", "phone", "webcam"], size=owner.size)
    return fairaudit.EmbeddingSet(x, identity=owner.astype(str), attributes={"group": groups},
                                  covariates={"quality": quality, "age": age, "device": device})


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--identities", type=int, default=4000)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--dim", type=int, default=512)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    es = population(args.identities, args.samples, args.dim)
    thr = {"fmr": 1e-3}
    fairaudit.covariate_audit(es.subset(np.arange(200)), by="group", threshold=thr, n_boot=20)  # compile, warm up
    one_pass = best(lambda: fairaudit.verification_audit(es, by="group", threshold=thr, n_boot=0), args.repeat)
    full = best(lambda: fairaudit.verification_audit(es, by="group", threshold=thr, n_boot=args.n_boot), args.repeat)
    no_model = best(lambda: fairaudit.covariate_audit(es, by="group", threshold=thr, n_boot=args.n_boot,
                                                      regression=False), args.repeat)
    cov = best(lambda: fairaudit.covariate_audit(es, by="group", threshold=thr, n_boot=args.n_boot), args.repeat)
    print(f"N = {len(es):,} x {args.dim}, 6 groups, 3 covariates, n_boot = {args.n_boot}; BLAS: {blas_info()}")
    print(f"verification_audit(n_boot=0)        1.00  (the baseline, {one_pass:.2f} s)")
    print(f"verification_audit(n_boot={args.n_boot})     {full / one_pass:.2f}")
    print(f"covariate_audit(regression=False)   {no_model / one_pass:.2f}")
    print(f"covariate_audit                     {cov / one_pass:.2f}   (regressions: {(cov - no_model) / one_pass:.2f})")


if __name__ == "__main__":
    main()
