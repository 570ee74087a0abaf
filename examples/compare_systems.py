"""Compare systems side by side: two synthetic systems with planted profiles, then two extractors
over variants of the two offline photos.

Part 1 draws one synthetic population seen by two systems (``fairaudit.synthetic.systems``: one
more accurate but less fair, one fairer but less accurate), audits both at their own FMR 1e-3
thresholds with one shared identity bootstrap, and checks that the comparison finds what was
planted. Part 2 embeds variants of Grace Hopper's and Eileen Collins's photos (matplotlib's and
scikit-image's sample images) with dlib's ResNet and with the ``pixels`` example extractor in one
pass (aligned sets), and compares the two. Two people make a tiny audit: there are no impostor
pairs within a group of one person, so per-group FMR is undefined and only the mechanics and the
pooled rates mean something; the point is how aligned sets from images get compared.

Usage: python examples/compare_systems.py [OUT_DIR]   (needs fairaudit[images] and fairaudit-pixels)
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

import fairaudit
from fairaudit.systems import plots

out = Path(sys.argv[1] if len(sys.argv) > 1 else "compare-out")
out.mkdir(parents=True, exist_ok=True)

# --- part 1: two synthetic systems with planted profiles -----------------------------------------
systems = fairaudit.synthetic.systems("diveface", n_identities=100, random_state=0)
print(fairaudit.synthetic.planted_systems()[["description", "pooled_fnmr_rank", "fnmr_max_min_rank"]]
      .to_string(), end="\n\n")
cmp = fairaudit.compare_systems(systems, by=["gender", "ethnicity"], threshold="fmr=1e-3", n_boot=1000)
print(cmp.summary(), end="\n\n")
board = cmp.leaderboard.set_index("system")
planted = fairaudit.synthetic.planted_systems()
most_accurate = planted["pooled_fnmr_rank"].astype(int).idxmax()  # rank 1 = highest pooled FNMR
fairest = planted["fnmr_max_min_rank"].astype(int).idxmax()       # rank 1 = largest FNMR max/min
print(f"planted: {most_accurate!r} most accurate, {fairest!r} fairest; found: "
      f"{board['fnmr'].idxmin()!r} most accurate, {board['fnmr_max_min'].idxmin()!r} fairest")
cmp.to_json(out / "synthetic_systems.json")
plots.save_all(cmp, out, prefix="synthetic")

# --- part 2: two extractors over variants of the two offline photos -------------------------------
try:
    from matplotlib import cbook
    from PIL import Image, ImageEnhance
    from skimage.data import astronaut
except ImportError:
    sys.exit("part 2 needs fairaudit[images] and scikit-image: pip install 'fairaudit[images]' scikit-image")
photos = {"hopper": Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"),
          "collins": Image.fromarray(astronaut())}
rows = []
(out / "images").mkdir(exist_ok=True)
for person, photo in photos.items():
    for kind, image in {"original": photo, "mirrored": photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                        "dark": ImageEnhance.Brightness(photo).enhance(0.6), "tilted": photo.rotate(6),
                        "bright": ImageEnhance.Brightness(photo).enhance(1.3),
                        "half-size": photo.resize((photo.width // 2, photo.height // 2))}.items():
        path = out / "images" / f"{person}-{kind}.png"
        image.save(path)
        # one attribute for the group column: both people are in one group, "sample photos"
        rows.append({"path": str(path), "identity": person, "source": "sample photos"})
extracted = fairaudit.extract(pd.DataFrame(rows), extractor=["dlib-resnet", "pixels"], progress=False)
for name, es in extracted.items():
    print(f"{name}: {len(es)} embeddings of dimension {es.n_features}, {len(es.failures)} failures")
photo_cmp = fairaudit.compare_systems(extracted, by="source", threshold="eer", n_boot=200)
print(photo_cmp.summary())
photo_cmp.to_json(out / "photo_systems.json")
print(f"\nwritten: {out / 'synthetic_systems.json'}, {out / 'photo_systems.json'}, "
      f"{out / 'synthetic_det_by_group.png'}, {out / 'synthetic_accuracy_fairness.png'}")
