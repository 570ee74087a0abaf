"""A custom split strategy: how much of a minority group does a classifier need to see?

A strategy only decides which rows of the training pool train each model; the audit holds out the
test people first, checks that no one leaks into training, fits and scores. This one keeps every
group but one and downsamples that group to a few fractions of its people. It is registered by name
through the register_splits hook (passing an instance as split= works too).
Run: python examples/custom_split_strategy.py [OUT_DIR]
"""

import math
import sys
from pathlib import Path

import numpy as np

import fairaudit
from fairaudit import synthetic
from fairaudit import plugins
from fairaudit.reporting.document import plot_mixture_sweep


class MinorityDownsampled:
    name = "minority-downsampled"

    def __init__(self, group="N", fractions=(0.1, 0.3, 1.0)):
        if not fractions or not all(0 < f <= 1 for f in fractions):
            raise fairaudit.FairauditInputError(
                f"fractions={fractions!r} must all be in (0, 1]. Fix: pass e.g. (0.1, 0.3, 1.0).")
        self.group, self.fractions = str(group), tuple(fractions)

    def describe(self):  # recorded in the result's params
        return {"name": self.name, "group": self.group, "fractions": list(self.fractions)}

    def train_sets(self, pool, *, groups, target, identity, rng):
        minority = pool[groups[pool] == self.group]
        if minority.size == 0:
            raise fairaudit.FairauditInputError(f"group {self.group!r} has no training rows; groups: "
                                                f"{np.unique(groups[pool]).tolist()}. Fix: pass one of them as group=.")
        others = pool[groups[pool] != self.group]  # every other group: all of its training rows
        for fraction in self.fractions:
            keep = [others]
            for label in np.unique(target[minority]):  # the same fraction of the people of every class
                people = np.unique(identity[minority[target[minority] == label]])
                chosen = rng.choice(people, size=math.ceil(fraction * people.size), replace=False)
                keep.append(minority[np.isin(identity[minority], chosen)])
            yield f"{self.group} at {fraction:.0%}", np.sort(np.concatenate(keep))


@fairaudit.hookimpl
def register_splits(register):
    register("minority-downsampled", MinorityDownsampled, description="one group downsampled to 10/30/100 %")


out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-out")
out.mkdir(parents=True, exist_ok=True)
es = synthetic.population("diveface", n_identities=150, samples_per_identity=2, dim=128, random_state=0)
name = plugins.register_plugin(sys.modules[__name__], name="minority-downsampled-example")
try:
    result = fairaudit.classification_audit(es, target="gender", by="ethnicity", split="minority-downsampled",
                                            n_seeds=2, random_state=0, progress=False)
finally:
    plugins.unregister_plugin(name)

first_seed = result.training[result.training["seed"] == result.seeds[0]]
print("Training rows per model and group (first seed):")
table = first_seed.pivot_table(index="model", columns="group", values="n_train", aggfunc="sum", sort=False)
print(table.to_string())
print("\nAccuracy of the gender classifier per test group:")
print(result.cross_table().round(3).to_string())
result.to_json(out / "minority_downsampled.json")
plot_mixture_sweep(result).figure.savefig(out / "minority_downsampled.png", dpi=120)
print("\nwritten: minority_downsampled.json, minority_downsampled.png")
