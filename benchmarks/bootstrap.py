"""What the identity bootstrap and the permutation tests add to a verification audit.

Targets (issue 14), on ``fairaudit.synthetic.population("diveface", n_identities=k,
samples_per_identity=5)`` with ``by=["gender", "ethnicity"]`` and ``threshold={"fmr": 1e-3}``, at
N = 30,000 and N = 120,000:

* the bootstrap: ``n_boot=1000`` (``n_perm=0``) costs at most 1.0x the ``n_boot=0`` audit on top
  of it (total <= 2x);
* the permutation tests: ``n_perm=1000`` costs at most 1.0x the ``n_boot=0`` audit on top of the
  bootstrap.

The three configurations run interleaved, ``--repeat`` times each, in this process (the kernels
are compiled by a warm-up first); the medians are compared. Ratios, not seconds, are what carry
from one machine to another.

Usage: python benchmarks/bootstrap.py [--sizes 30000 120000] [--repeat 3] [--threshold fmr=1e-3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import fairaudit
from fairaudit.common.provenance import blas_info

CONFIGS = (("n_boot=0", 0, 0), ("n_boot=1000, n_perm=0", 1000, 0), ("n_boot=1000, n_perm=1000", 1000, 1000))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[30000, 120000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threshold", default="fmr=1e-3")
    args = parser.parse_args()
    print("BLAS:", blas_info())
    warm = fairaudit.synthetic.population("diveface", n_identities=20, samples_per_identity=5)
    fairaudit.verification_audit(warm, by=["gender", "ethnicity"], threshold=args.threshold, n_boot=50,
                                 n_perm=50, progress=False)  # compiles (or loads) the kernels
    for n in args.sizes:
        es = fairaudit.synthetic.population("diveface", n_identities=n // 30, samples_per_identity=5)
        times: dict[str, list[float]] = {name: [] for name, _, _ in CONFIGS}
        for _ in range(args.repeat):
            for name, n_boot, n_perm in CONFIGS:
                t = time.perf_counter()
                fairaudit.verification_audit(es, by=["gender", "ethnicity"], threshold=args.threshold,
                                             n_boot=n_boot, n_perm=n_perm, random_state=0, progress=False)
                times[name].append(time.perf_counter() - t)
        med = {name: statistics.median(v) for name, v in times.items()}
        t0, tb, tp = (med[name] for name, _, _ in CONFIGS)
        print(f"\nN = {len(es):,} ({n // 30:,} identities per group, 6 groups), threshold {args.threshold}, "
              f"median of {args.repeat}")
        for name, _, _ in CONFIGS:
            print(f"  {name:26s} {med[name]:8.2f} s   ({', '.join(f'{x:.2f}' for x in times[name])})")
        print(f"  bootstrap added / n_boot=0 audit:          {(tb - t0) / t0:.2f}  (target <= 1.00)")
        print(f"  1,000 permutations added / n_boot=0 audit: {(tp - tb) / t0:.2f}  (target <= 1.00)")
        print(f"  default audit / n_boot=0 audit:            {tp / t0:.2f}")


if __name__ == "__main__":
    main()
