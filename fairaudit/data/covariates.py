"""Sample-level covariates: what varies from one image to the next (age at capture, a quality
score, pose, illumination, capture device, a skin-tone scale), as opposed to the demographic
attributes, which are constant per identity.

A covariate is either **numeric** (stored as float64; quantile bins are cut from it by the
covariate audit) or **categorical** (stored as str labels, checked like attributes). The kind is
read from the values (numbers are numeric; text and bool categorical) unless ``covariate_kinds``
says otherwise, e.g. a device coded 1, 2, 3. Missing values are refused: an audit that silently
dropped the samples whose age is unknown would compare other populations than it claims.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.labels import _RESERVED, _as_labels, _check_unique_names, _label_values

KINDS = ("numeric", "categorical")

COVARIATES_NOT_TABLE = (
    "covariates must be a DataFrame or a mapping of name -> one value per sample; got {type}. "
    "Fix: pass e.g. covariates={{'age': ages, 'quality': scores}}, or None."
)
COVARIATE_NAME_CLASH = (
    "covariate {name!r} has the name of {what}. Fix: rename the covariate (covariates and "
    "attributes share one namespace in tables and files), e.g. {name!r} -> '{name}_at_capture'."
)
COVARIATE_KIND_UNKNOWN = (
    "covariate_kinds[{name!r}] = {kind!r} is not a kind of covariate. Fix: use 'numeric' or "
    "'categorical'."
)
COVARIATE_KIND_NAME_UNKNOWN = (
    "covariate_kinds names {name!r}, which is not a covariate; covariates: {available}. Fix: give "
    "kinds only for covariates you pass."
)
COVARIATE_NOT_NUMERIC = (
    "covariate {name!r} is declared numeric but holds {value!r} (row {row}), which is not a "
    "number. Fix: convert the column to numbers, or declare it covariate_kinds={{{name!r}: "
    "'categorical'}}."
)
COVARIATE_MISSING = (
    "covariate {name!r} has {count} missing or non-finite value(s) (rows {rows}); fairaudit does "
    "not drop samples silently. Fix: fill them in, or leave those samples out with "
    "EmbeddingSet.subset(...) and say so."
)


def _kind_of(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "categorical"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_complex_dtype(values):
        return "numeric"
    return "categorical"


def _numeric(name: str, values: pd.Series) -> np.ndarray:
    converted = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(converted.isna().to_numpy() & ~values.isna().to_numpy())
    if bad.size:
        raise errors.FairauditInputError(COVARIATE_NOT_NUMERIC.format(
            name=name, value=values.iloc[int(bad[0])], row=int(bad[0])))
    out = converted.to_numpy(dtype=np.float64)
    missing = np.flatnonzero(~np.isfinite(out))
    if missing.size:
        raise errors.FairauditInputError(COVARIATE_MISSING.format(
            name=name, count=missing.size, rows=[int(r) for r in missing[:5]]))
    return out


def check_covariates(covariates: Any, n: int, *, taken: list[str],
                     kinds: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, dict[str, str]]:
    """``covariates`` checked and normalised: a DataFrame of ``n`` rows (numeric columns float64,
    categorical columns str) and the kind of each column.

    ``taken`` are names the covariates may not have (the attributes); ``kinds`` overrides the kind
    read from the values.
    """
    if covariates is None:
        if kinds:
            raise errors.FairauditInputError(COVARIATE_KIND_NAME_UNKNOWN.format(
                name=next(iter(kinds)), available=[]))
        return pd.DataFrame(index=pd.RangeIndex(n)), {}
    if isinstance(covariates, pd.DataFrame):
        names = [str(c) for c in covariates.columns]
        _check_unique_names(names)
        columns = {str(c): covariates.iloc[:, i].reset_index(drop=True)
                   for i, c in enumerate(covariates.columns)}
        if len(covariates) != n and names:
            raise errors.FairauditInputError(errors.LENGTH_MISMATCH.format(
                name="covariates", got=len(covariates), n=n))
    elif isinstance(covariates, Mapping):
        names = [str(k) for k in covariates]
        _check_unique_names(names)
        columns = {}
        for key, values in covariates.items():
            label = f"covariate {str(key)!r}"
            values = _label_values(values, name=label, n=n, per="sample")
            series = pd.Series(values.to_numpy() if isinstance(values, pd.Series) else
                               (values if isinstance(values, np.ndarray) else list(values)))
            if len(series) != n:
                raise errors.FairauditInputError(errors.LENGTH_MISMATCH.format(
                    name=label, got=len(series), n=n))
            columns[str(key)] = series
    else:
        raise errors.FairauditInputError(COVARIATES_NOT_TABLE.format(type=type(covariates).__name__))
    kinds = dict(kinds or {})
    for name, kind in kinds.items():
        if name not in columns:
            raise errors.FairauditInputError(COVARIATE_KIND_NAME_UNKNOWN.format(
                name=name, available=list(columns)))
        if kind not in KINDS:
            raise errors.FairauditInputError(COVARIATE_KIND_UNKNOWN.format(name=name, kind=kind))
    clean: dict[str, Any] = {}
    out_kinds: dict[str, str] = {}
    for name, values in columns.items():
        if name in _RESERVED:
            raise errors.FairauditInputError(COVARIATE_NAME_CLASH.format(
                name=name, what="a reserved column (" + ", ".join(_RESERVED) + ")"))
        if name in taken:
            raise errors.FairauditInputError(COVARIATE_NAME_CLASH.format(name=name, what="an attribute"))
        kind = kinds.get(name) or _kind_of(values)
        if kind == "numeric":
            clean[name] = _numeric(name, values)
        else:
            clean[name] = _as_labels(values.to_numpy(dtype=object), name=f"covariate {name!r}", n=n,
                                     what="levels")
        out_kinds[name] = kind
    return pd.DataFrame(clean, index=pd.RangeIndex(n)), out_kinds


def covariates_to_json(kinds: Mapping[str, str]) -> list[dict[str, str]]:
    """The kinds as stored in files: ``[{"name": ..., "kind": ...}, ...]`` in column order."""
    return [{"name": name, "kind": kind} for name, kind in kinds.items()]


def kinds_from_json(stored: Any, *, where: str) -> dict[str, str]:
    """Kinds read back from :func:`covariates_to_json`'s list (``where`` names the file for errors)."""
    if not isinstance(stored, list) or not all(
            isinstance(x, dict) and isinstance(x.get("name"), str) and x.get("kind") in KINDS
            for x in stored):
        raise errors.FairauditInputError(
            f"{where}: the stored covariate list is not a list of {{'name', 'kind'}} entries with kind "
            f"'numeric' or 'categorical' (got {str(stored)[:80]!r}). Fix: write the file again with "
            "EmbeddingSet.save().")
    return {x["name"]: x["kind"] for x in stored}
