"""What produced a result: package versions, the BLAS in use, parameters, time."""

from __future__ import annotations

import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from typing import Iterable

_DEFAULT_PACKAGES = ("fairaudit", "numpy", "pandas", "scikit-learn", "fairlearn", "matplotlib")


def package_versions(extra: Iterable[str] = ()) -> dict[str, str | None]:
    """Installed versions of fairaudit's main dependencies (None when absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in (*_DEFAULT_PACKAGES, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def blas_info() -> list[dict[str, object]]:
    """The BLAS libraries numpy uses, with their kernel and thread count.

    The kernel changes matrix-product speed by about 2x on the same machine,
    so every result records it.
    """
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - threadpoolctl is a core dependency
        return []
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: info.get(k) for k in keep} for info in threadpool_info()]


def provenance(*, elapsed_s: float | None = None, extra_packages: Iterable[str] = ()) -> dict[str, object]:
    """A JSON-safe record of the environment that produced a result."""
    return {
        "versions": package_versions(extra_packages),
        "blas": blas_info(),
        "platform": platform.platform(),
        "argv": list(sys.argv),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "elapsed_s": None if elapsed_s is None else round(float(elapsed_s), 3),
    }
