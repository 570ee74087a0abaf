"""System-level FAR and FRR as ISO/IEC 19795-1 (2006, and its 2021 revision) defines them: the
comparison rates FMR and FNMR with failures to acquire folded in.

A transaction that fails to acquire cannot be falsely accepted and is always rejected, so for a
single-attempt transaction

* ``far = fmr * (1 - fta)``
* ``frr = fta + fnmr * (1 - fta)``

with ``fta`` the failure-to-acquire rate of the group (failures over attempts, from
``EmbeddingSet.failure_to_acquire``). Without failure information (a set that records no failure,
or a score file) the three columns are NaN.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: columns added to ``VerificationResult.by_group`` (and ``overall``)
SYSTEM_COLUMNS = ("fta", "far", "frr")


def add_system_rates(by_group: pd.DataFrame, overall: pd.Series, data, by) -> None:
    """Add ``fta``, ``far`` and ``frr`` to ``by_group`` and ``overall`` (in place)."""
    fta = np.full(len(by_group), np.nan)
    fta_all = np.nan
    failures = getattr(data, "failures", None)
    if failures is not None and len(failures):
        table = data.failure_to_acquire(list(by))
        fta = table["fta"].reindex(by_group.index).to_numpy(dtype=float)
        fta_all = float(table["n_failures"].sum() / table["n_attempts"].sum())
    for frame, f in ((by_group, fta), (overall, fta_all)):
        frame["fta"] = f
        frame["far"] = frame["fmr"] * (1.0 - np.asarray(f))
        frame["frr"] = np.asarray(f) + frame["fnmr"] * (1.0 - np.asarray(f))
