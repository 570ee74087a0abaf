"""Audit a black-box face matcher from its score file.

Many vendors only return comparison scores. This example writes what such a system gives you, a Bob
four-column score file (claimed_id real_id probe_label score), plus your own table of who is who
(identity -> ethnicity), reads both back with fairaudit.ScoreSet and audits the errors per group.
The scores are synthetic: the matcher is planted to be worse (lower genuine scores) for group N.
Run: python examples/audit_score_file.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

import fairaudit

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-out")
out.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(0)

# 40 people per group, one enrolled reference each and three probe images each
people = pd.DataFrame({"identity": [f"{g}{i:02d}" for g in "ABN" for i in range(40)],
                       "ethnicity": np.repeat(list("ABN"), 40)})
probes = np.repeat(people["identity"].to_numpy(), 3)
claimed, real = np.meshgrid(people["identity"], probes, indexing="ij")  # every reference vs every probe
claimed, real = claimed.ravel(), real.ravel()
genuine = claimed == real
group_n = np.char.startswith(real.astype(str), "N")
# impostor scores ~ N(0.20, 0.10); genuine scores ~ N(0.70, 0.10), but N(0.55, 0.12) for group N
score = rng.normal(0.20, 0.10, claimed.size)
score[genuine] = rng.normal(0.70, 0.10, genuine.sum())
score[genuine & group_n] = rng.normal(0.55, 0.12, (genuine & group_n).sum())
score = np.clip(score, -1, 1)  # cosine similarities; map other scores into [-1, 1] with an increasing transform
labels = [f"{p}_probe{k % 3}" for k, p in enumerate(probes)] * len(people)
with open(out / "scores-dev.txt", "w") as fh:
    fh.writelines(f"{c} {r} {t} {s:.6f}\n" for c, r, t, s in zip(claimed, real, labels, score))
people.to_csv(out / "identities.csv", index=False)

# what you would do with the files of a real system: read, audit, plot, report
identities = pd.read_csv(out / "identities.csv", dtype=str)
# the format (bob-4col) is detected from the file; attributes are attached to both sides by identity
scores = fairaudit.ScoreSet.read(out / "scores-dev.txt", identity_attributes=identities)
print(f"{len(scores):,} comparisons read from scores-dev.txt\n")
result = fairaudit.verification_audit(scores, by="ethnicity", threshold={"fmr": 1e-3}, n_boot=200, random_state=0)
print(result.summary())
result.to_json(out / "audit.json")
fairaudit.plot.save_all(result, out)
fairaudit.report(result, out / "report.html", title="Black-box matcher by ethnicity")
worst = result.by_group.sort_values("fnmr").iloc[-1]
print(f"\nhighest FNMR: group {worst['label']} ({worst['fnmr']:.3f}); figures, audit.json and report.html written")
