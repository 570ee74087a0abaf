"""The data section of a report: failure-to-acquire rates per group from the population, warnings
(the results' notes, small test groups) and a summary of the population."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from fairaudit.common import errors
from fairaudit.common.serialize import frame_to_dict
from fairaudit.data import POOLED, labels_of
from fairaudit.reporting.entries import _Entry
from fairaudit.reporting.formatting import _one_line

#: a test group with fewer test samples (per seed) than this gets a warning in the data section
SMALL_TEST_GROUP = 50


def _fta_tables(entries: Sequence[_Entry], population: Any) -> list[dict[str, Any]]:
    bys: list[tuple[str, ...]] = []
    for entry in entries:
        if entry.kind in ("verification", "systems", "covariates", "identification", "classification") \
                and tuple(entry.result.by) not in bys:
            bys.append(tuple(entry.result.by))
    out = []
    for by in bys:
        item: dict[str, Any] = {"by": list(by), "status": "", "message": "", "table": None}
        if population is None:
            item["status"] = "not-available"
            item["message"] = ("No population was passed to the report (population=), so no failures to "
                               "acquire are recorded here.")
        elif len(population.failures) == 0:
            item["status"] = "none-recorded"
            item["message"] = (f"No failures to acquire are recorded in the population "
                               f"({len(population):,} samples acquired).")
        else:
            try:
                table = population.failure_to_acquire(list(by))
            except (errors.FairauditInputError, KeyError) as exc:
                item["status"] = "error"
                item["message"] = f"The failure-to-acquire rate per group could not be computed: {_one_line(exc)}"
            else:
                table = table.copy()
                table.insert(0, "group", labels_of(list(table.index)))
                item["status"] = "table"
                item["message"] = (f"{int(table['n_failures'].sum()):,} of {int(table['n_attempts'].sum()):,} "
                                   "attempts failed to give an embedding.")
                item["table"] = frame_to_dict(table.reset_index(drop=True))
        out.append(item)
    return out


def _warnings(entries: Sequence[_Entry]) -> list[dict[str, str]]:
    out = []
    for entry in entries:
        for note in entry.result.notes:
            out.append({"result": entry.id, "text": str(note)})
        if entry.kind == "classification":
            cross = entry.result.cross
            small = cross[(cross["test_group"] != POOLED) & (pd.to_numeric(cross["n_test"]) < SMALL_TEST_GROUP)]
            for group in dict.fromkeys(small["test_group"].astype(str)):
                n = int(pd.to_numeric(small.loc[small["test_group"].astype(str) == group, "n_test"]).min())
                out.append({"result": entry.id, "text": (
                    f"Test group {group!r} has only {n} test samples per seed (fewer than "
                    f"{SMALL_TEST_GROUP}): its accuracy is coarse.")})
    return out


def _population_summary(population: Any) -> dict[str, Any] | None:
    if population is None:
        return None
    return {"n_samples": len(population), "n_identities": population.n_identities,
            "n_features": population.n_features, "attributes": list(population.attribute_names),
            "n_failures": int(len(population.failures)),
            "value_labels": getattr(population, "value_labels", {}) or {},
            "planted": (getattr(population, "metadata", {}) or {}).get("planted")}
