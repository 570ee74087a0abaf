"""The progress bar of long work: tqdm when asked for, or by default when stderr is a terminal."""

from __future__ import annotations

import sys
from typing import Any


def progress_bar(total: int, enabled: bool | None, desc: str, unit: str = "item") -> Any:
    """A tqdm bar of ``total`` units, or None when ``enabled`` is False (None: when stderr is a
    terminal). tqdm is imported only when a bar is drawn."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)
