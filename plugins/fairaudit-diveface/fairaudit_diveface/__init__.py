"""fairaudit-diveface: the reference plugin of fairaudit.

It provides, through fairaudit's plugin hooks (entry point ``diveface``):

* the dataset loader ``diveface`` (:func:`fairaudit_diveface.dataset.load_diveface`);
* the extractor ``vggface2-resnet50``: OpenCV SSD face detection and the Keras
  ResNet-50 trained on VGGFace2 (:class:`fairaudit_diveface.embedder.VGGFace2ResNet50`);
* the command ``fairaudit study diveface`` and :func:`fairaudit_diveface.study.run_study`,
  which rerun the reference study under its original (leaky) and the corrected protocol.

Importing this package is cheap: TensorFlow and OpenCV are imported only when
a face is detected or embedded.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
