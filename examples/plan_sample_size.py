"""Plan an audit: how many identities per group are needed to detect an FNMR ratio of 2?

A pilot population (here a small synthetic one standing in for your own pilot embeddings) calibrates the
simulation: its reference group's genuine-score spread, impostor similarity and identity clustering. The
plan then simulates audits of two groups, one with twice the other's FNMR at the threshold where the
reference FMR is 1e-3, for 3 and for 5 samples per identity.
Run: python examples/plan_sample_size.py [OUT_DIR]
"""

import sys
from pathlib import Path

import fairaudit

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-out")
pilot = fairaudit.synthetic.population("diveface", n_identities=40, samples_per_identity=4, dim=64, random_state=0)

plan = fairaudit.plan_sample_size(
    pilot, by="ethnicity", reference="B",   # calibrate on the pilot's group B
    ratio=2, metric="fnmr", fmr=1e-3, power=0.8, alpha=0.05,
    samples_per_identity=[3, 5], n_sim=100, tolerance=0.15, random_state=0,
)
print(plan.summary())
print()
print("recommendation per design:")
print(plan.recommendation.to_string(index=False))
plan.to_json(out / "plan.json")
print(f"\nwritten to {out / 'plan.json'}")
