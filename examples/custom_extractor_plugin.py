"""A custom extractor plugin, written inline, registered at run time and used by name.

The toy extractor finds the face with OpenCV's Haar cascade (shipped with OpenCV: nothing to download)
and embeds its 8x8 colour layout. The photos are Grace Hopper (shipped with matplotlib) and astronaut
Eileen Collins (shipped with scikit-image), edited into a few captures per person, plus a thumbnail too
small for the detector and a file that is not an image. Run: python examples/custom_extractor_plugin.py [OUT_DIR]
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import cbook
from matplotlib.figure import Figure
from PIL import Image, ImageEnhance

import fairaudit
from fairaudit import plugins


class ColourLayoutExtractor:
    name, dim = "colour-layout", 192

    def __init__(self):
        from fairaudit.images.extractors import HaarDetector

        self.detector = HaarDetector()  # loads its cascade on first use, not when the plugin is registered

    def detect_and_align(self, image):  # HxWx3 uint8 RGB -> the aligned face, or None ("no face found")
        boxes = self.detector.detect(image)  # largest face first
        if not boxes:
            return None
        left, top, right, bottom = boxes[0]
        return np.asarray(Image.fromarray(image[top:bottom, left:right]).resize((8, 8), Image.BOX))

    def embed(self, chips):  # list of 8x8x3 faces -> (n, 192), each colour channel centred on its mean
        x = np.stack(chips).astype(np.float32)
        return (x - x.mean(axis=(1, 2), keepdims=True)).reshape(len(chips), -1)

    def cache_key(self):  # must change whenever the embeddings would
        return "colour-layout-v1"


@fairaudit.hookimpl
def register_extractors(register):
    register("colour-layout", ColourLayoutExtractor, description="toy: 8x8 colour layout of the Haar face")


try:
    from skimage.data import astronaut
except ImportError:
    sys.exit("this example needs scikit-image for its second photo: pip install scikit-image")
out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-out")
(out / "images").mkdir(parents=True, exist_ok=True)
photos = {"hopper": Image.open(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)).convert("RGB"),
          "collins": Image.fromarray(astronaut())}
rows = []  # the manifest: path, identity and one attribute per person (the library the photo comes from)
for person, photo in photos.items():
    library = {"hopper": "matplotlib", "collins": "skimage"}[person]
    for kind, image in {"original": photo, "mirrored": photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
                        "dark": ImageEnhance.Brightness(photo).enhance(0.6), "tilted": photo.rotate(8),
                        "half-size": photo.resize((photo.width // 2, photo.height // 2)),
                        "thumbnail": photo.resize((48, 48 * photo.height // photo.width))}.items():
        image.save(out / "images" / f"{person}-{kind}.png")
        rows.append({"path": str(out / "images" / f"{person}-{kind}.png"), "identity": person, "library": library})
(out / "images" / "collins-download.png").write_text("<html>404 Not Found</html>")  # a failed download
rows.append({"path": str(out / "images" / "collins-download.png"), "identity": "collins", "library": "skimage"})

name = plugins.register_plugin(sys.modules[__name__], name="colour-layout-example")  # this module is the plugin
try:
    es = fairaudit.extract(pd.DataFrame(rows), extractor="colour-layout", progress=False)
finally:
    plugins.unregister_plugin(name)

print(f"{len(es)} embeddings of {es.n_identities} people, dimension {es.n_features}; {len(es.failures)} failures:")
for failure in es.failures.itertuples():
    print(f"  {Path(failure.path).name:22s} {failure.reason}")
print("\nfailure to acquire by library:\n" + es.failure_to_acquire("library").round(3).to_string())
scores = es.normalized() @ es.normalized().T  # cosine similarity of every pair of images
print("\nmean score per person: genuine (its other images) vs impostor (the other person's images)")
for person in photos:
    own = es.identity == person
    genuine = scores[np.ix_(own, own)][~np.eye(own.sum(), dtype=bool)]
    print(f"  {person:8s} genuine {genuine.mean():.3f}   impostor {scores[np.ix_(own, ~own)].mean():.3f}")

ax = Figure(figsize=(6.5, 5.5), layout="constrained").add_subplot()
labels = [Path(p).stem for p in es.path]
ax.figure.colorbar(ax.imshow(scores, vmin=0, vmax=1), ax=ax, label="cosine similarity")
ax.set_xticks(range(len(es)), labels=labels, rotation=60, ha="right", fontsize="small")
ax.set_yticks(range(len(es)), labels=labels, fontsize="small")
ax.set_title("Cosine similarity of the colour-layout embeddings")
ax.figure.savefig(out / "similarity.png", dpi=110)
print("\nwritten: images/, similarity.png")
