"""Verification audit of your own embeddings.

Replace the synthetic arrays below with your model's embeddings, the identity of every sample and its
attributes. Run: python examples/verify_own_embeddings.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np

import fairaudit

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-out")
rng = np.random.default_rng(0)
n_people, per_person, dim = 120, 4, 64
centres = rng.standard_normal((n_people, dim))
identity = np.repeat([f"person{i:03d}" for i in range(n_people)], per_person)
embeddings = np.repeat(centres, per_person, axis=0) + 0.8 * rng.standard_normal((len(identity), dim))
gender = np.repeat(rng.choice(["F", "M"], n_people), per_person)

data = fairaudit.EmbeddingSet(embeddings, identity=identity, attributes={"gender": gender})
result = fairaudit.verification_audit(data, by="gender", threshold={"fmr": 1e-2}, n_boot=200, random_state=0)
print(result.summary())
result.to_json(out / "audit.json")
fairaudit.plot.save_all(result, out)
print(f"written to {out}")
