"""``import fairaudit`` stays light."""

import subprocess
import sys

HEAVY = ("tensorflow", "tf_keras", "keras", "cv2", "dlib", "dask", "distributed", "torch",
         "matplotlib.pyplot", "sklearn", "fairlearn")


def test_import_fairaudit_imports_no_heavy_dependency():
    code = (
        "import sys, fairaudit\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "", f"import fairaudit pulled in: {proc.stdout.strip()}"


def test_public_names_resolve_lazily():
    import fairaudit

    assert callable(fairaudit.verification_audit)
    assert fairaudit.EmbeddingSet.__name__ == "EmbeddingSet"
    assert "verification_audit" in dir(fairaudit)
