"""Classification audit with a mixture sweep: how the training mix decides who a classifier fails.

A gender classifier (logistic regression on face embeddings) is trained on mixes of ethnicities with a
growing share of group N, and every model is scored per ethnicity on the same held-out people. The
synthetic "diveface" population plants a gender direction that is rotated between ethnicities, so a
model that saw little of N is least accurate on N. Run: python examples/classification_mixture_sweep.py [OUT_DIR]
"""

import sys
from pathlib import Path

import fairaudit
from fairaudit import synthetic
from fairaudit.reporting.document import plot_cross, plot_mixture_sweep
from fairaudit.classification.splits import Mixture

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-out")
out.mkdir(parents=True, exist_ok=True)

# 150 identities per gender x ethnicity group, 2 images each, 128-d embeddings
es = synthetic.population("diveface", n_identities=150, samples_per_identity=2, dim=128, random_state=0)

# one model per mixture: 400 training rows, share n of group N and the rest split evenly over A and B
sweep = [Mixture({"A": (1 - n) / 2, "B": (1 - n) / 2, "N": n}, size=400, name=f"N {n:.0%}")
         for n in (0.0, 0.2, 0.4, 0.6)]
result = fairaudit.classification_audit(es, target="gender", by="ethnicity", head="logistic", split=sweep,
                                        n_seeds=2, random_state=0, progress=False)
result.check_no_leakage(es.identity)  # no person is in a training set and in the test set

print("Accuracy of the gender classifier per test group (rows: share of N in the training mix)")
print(result.cross_table().round(3).to_string())
gap = result.fairness.query("metric == 'accuracy_difference'").set_index("model")["mean"]
print("\nAccuracy gap between the best and the worst group:")
print(gap.round(3).to_string())

result.to_json(out / "mixture_sweep.json")
plot_mixture_sweep(result).figure.savefig(out / "mixture_sweep.png", dpi=120)
plot_cross(result).figure.savefig(out / "cross.png", dpi=120)
print("\nwritten: mixture_sweep.json, mixture_sweep.png, cross.png")
