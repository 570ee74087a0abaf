"""Rerun the reference study's protocol on the synthetic DiveFace population.

This is how the figures of docs/guide/reference-study.md were produced::

    python examples/synthetic_study.py --out study-synthetic            # logistic head
    python examples/synthetic_study.py --out study-synthetic-mlp --head mlp

The population has the study's size: 750 identities per gender x ethnicity
group; the study's one image per identity is kept for tasks 1.2-2.6, and
task 1.1 draws 10 identities x 5 samples from the full population.
"""

from __future__ import annotations

import argparse

from fairaudit import synthetic
from fairaudit_diveface.study import run_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="study-synthetic")
    parser.add_argument("--head", choices=["logistic", "mlp"], default="logistic")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--n-identities", type=int, default=750)
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args()
    population = synthetic.population("diveface", n_identities=args.n_identities,
                                      samples_per_identity=5, dim=args.dim, random_state=0)
    result = run_study(population, out=args.out, head=args.head, n_seeds=args.seeds, random_state=0)
    print(result.summary())


if __name__ == "__main__":
    main()
