"""Label columns of an EmbeddingSet: identity, attributes and paths as one str per row.

Refuses values that are not one label per row, missing, empty or blank labels, labels that
differ only by surrounding spaces, repeated or reserved attribute names, and an identity whose
attributes change. :class:`~fairaudit.data.ScoreSet` checks its labels' text here too.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors

_RESERVED = ("identity", "path", "embedding")


def _first(rows: np.ndarray, k: int = 5) -> list[int]:
    return [int(r) for r in rows[:k]]


def _label_values(values: Any, *, name: str, n: int, per: str = "embedding row") -> Any:
    """``values`` if it can be one label per row (1-D, not a bare string or scalar), else an error."""
    if isinstance(values, (str, bytes)) or not (hasattr(values, "__len__") or hasattr(values, "__iter__")):
        shown = repr(values) if len(repr(values)) <= 40 else repr(values)[:37] + "..."
        raise errors.FairauditInputError(errors.LABEL_NOT_SEQUENCE.format(
            name=name, per=per, type=type(values).__name__, value=shown))
    if isinstance(values, (np.ndarray, pd.Series, pd.DataFrame)) and values.ndim != 1:
        raise errors.FairauditInputError(errors.LABEL_NOT_SEQUENCE.format(
            name=name, per=per, type=type(values).__name__,
            value=f"a {values.ndim}-D table of shape {tuple(values.shape)}"))
    return values


def check_label_text(labels: np.ndarray, *, name: str, what: str) -> None:
    """Refuse empty or blank labels, and labels that differ only by surrounding spaces.

    ``labels`` is an array of str; ``what`` names what the labels make
    ("identities", "groups") for the message. The check runs on the distinct
    values, so it costs little even for millions of rows.
    """
    uniques = np.asarray(pd.unique(np.asarray(labels, dtype=object)), dtype=object)
    stripped = np.array([u.strip() for u in uniques], dtype=object)
    blank = uniques[stripped == ""]
    if blank.size:
        rows = np.flatnonzero(np.isin(np.asarray(labels, dtype=object), blank))
        raise errors.FairauditInputError(errors.EMPTY_VALUES.format(
            name=name, count=rows.size, rows=_first(rows)))
    clash = pd.Series(stripped).duplicated(keep=False).to_numpy()
    if clash.any():
        examples = [" and ".join(repr(str(v)) for v in sorted(uniques[stripped == key]))
                    for key in pd.unique(stripped[clash])[:3]]
        raise errors.FairauditInputError(errors.LABELS_DIFFER_BY_SPACE.format(
            name=name, examples="; ".join(examples), what=what))


def _as_labels(values: Any, *, name: str, n: int, what: str | None = None) -> np.ndarray:
    """Return ``values`` as a 1-D array of str, refusing missing values (and, when ``what``
    names what the labels define, empty ones and near-duplicates)."""
    values = _label_values(values, name=name, n=n)
    arr = pd.Series(list(values) if not isinstance(values, (pd.Series, np.ndarray)) else values)
    if len(arr) != n:
        raise errors.FairauditInputError(
            errors.LENGTH_MISMATCH.format(name=name, got=len(arr), n=n)
        )
    missing = np.flatnonzero(arr.isna().to_numpy())
    if missing.size:
        raise errors.FairauditInputError(
            errors.MISSING_VALUES.format(name=name, count=missing.size, rows=_first(missing))
        )
    labels = arr.astype(str).to_numpy(dtype=str)
    if what is not None:
        check_label_text(labels, name=name, what=what)
    return labels


def _check_unique_names(names: list[str]) -> None:
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise errors.FairauditInputError(errors.ATTRIBUTE_NAMES_CLASH.format(names=repeated))


def check_identity_constant(identity: np.ndarray, attributes: pd.DataFrame) -> None:
    """Raise if any attribute value changes between the samples of one identity."""
    if attributes.shape[1] == 0:
        return
    frame = attributes.copy()
    frame["__identity__"] = identity
    counts = frame.groupby("__identity__", sort=True).nunique()
    for column in attributes.columns:
        bad = counts.index[counts[column].to_numpy() > 1]
        if len(bad):
            ident = bad[0]
            values = sorted(set(attributes.loc[identity == ident, column]))
            raise errors.FairauditInputError(
                errors.ATTRIBUTE_NOT_CONSTANT.format(column=column, identity=ident, values=values)
            )


# --- codebook (value labels) and metadata messages
VALUE_LABELS_NOT_MAPPING = (
    "value_labels must map an attribute name to a mapping of value -> readable name, e.g. "
    "{{'gender': {{'H': 'man', 'M': 'woman'}}}}; got {got}. Fix: pass a dict of dicts, or None."
)
VALUE_LABELS_UNKNOWN_ATTRIBUTE = (
    "value_labels names the attribute {name!r}, which this set does not have; attributes: "
    "{available}. Fix: label only existing attributes."
)
VALUE_LABEL_NOT_TEXT = (
    "value_labels[{name!r}][{code!r}] must be a non-empty string; got {got!r}. Fix: give every "
    "value a readable name, e.g. 'woman'."
)
METADATA_NOT_JSON = (
    "metadata must be a JSON-serialisable mapping (str keys; numbers, strings, lists, dicts); got "
    "{got}. Fix: pass e.g. {{'planted': {{...}}}}, or None."
)


def check_value_labels(value_labels: Any, attribute_names: list[str]) -> dict[str, dict[str, str]]:
    """``value_labels`` checked and normalised to ``{attribute: {code: readable}}`` (all strings).

    Codes need not all occur in the data (a subset may lose a group); attributes must exist.
    """
    if value_labels is None:
        return {}
    if not isinstance(value_labels, Mapping):
        raise errors.FairauditInputError(VALUE_LABELS_NOT_MAPPING.format(got=type(value_labels).__name__))
    out: dict[str, dict[str, str]] = {}
    for name, book in value_labels.items():
        if str(name) not in attribute_names:
            raise errors.FairauditInputError(VALUE_LABELS_UNKNOWN_ATTRIBUTE.format(
                name=name, available=attribute_names))
        if not isinstance(book, Mapping):
            raise errors.FairauditInputError(VALUE_LABELS_NOT_MAPPING.format(
                got=f"{type(book).__name__} for {str(name)!r}"))
        clean = {}
        for code, readable in book.items():
            if not isinstance(readable, str) or not readable.strip():
                raise errors.FairauditInputError(VALUE_LABEL_NOT_TEXT.format(name=str(name), code=code,
                                                                             got=readable))
            clean[str(code)] = readable.strip()
        if clean:
            out[str(name)] = clean
    return out


def check_metadata(metadata: Any) -> dict[str, Any]:
    """``metadata`` checked to be a JSON-serialisable mapping; returned as a fresh copy."""
    import json

    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise errors.FairauditInputError(METADATA_NOT_JSON.format(got=type(metadata).__name__))
    try:
        return json.loads(json.dumps(dict(metadata), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise errors.FairauditInputError(METADATA_NOT_JSON.format(got=f"{exc}")) from None
