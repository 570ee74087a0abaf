"""Group codes made readable and planted biases checked: the codebook of the population (value ->
readable name, e.g. DiveFace's ``M`` = woman) turns ``"M & N"`` into ``"woman (M) & Black (N)"``
in the report's tables and figures, and the orderings a synthetic population planted are compared
with the orderings the audit observed."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from fairaudit.data import POOLED
from fairaudit.data.groups import LABEL_SEP


def codebook_of(data: Mapping[str, Any], results: Sequence[Any] = ()) -> dict[str, dict[str, str]]:
    """The codebook the report uses: the population's (``data["data"]["population"]["value_labels"]``),
    completed by what results record in ``params["value_labels"]``."""
    book: dict[str, dict[str, str]] = {}
    # a comparison of systems keeps the codebook in its systems' audits
    nested = [a for r in results if getattr(r, "kind", None) == "systems" for a in r.audits.values()]
    for r in [*results, *nested]:
        params = getattr(r, "params", None)
        stored = params.get("value_labels") if isinstance(params, Mapping) else None
        for attribute, codes in (stored or {}).items():
            book.setdefault(str(attribute), {}).update({str(k): str(v) for k, v in dict(codes).items()})
    population = (data.get("data") or {}).get("population") or {}
    for attribute, codes in (population.get("value_labels") or {}).items():
        book.setdefault(str(attribute), {}).update({str(k): str(v) for k, v in dict(codes).items()})
    return book


def readable(label: Any, by: Sequence[str], codebook: Mapping[str, Mapping[str, str]]) -> str:
    """``"M & N"`` of ``by=["gender", "ethnicity"]`` as ``"woman (M) & Black (N)"``; a code without a
    readable name (or the pooled ``"all"``) stays as it is."""
    text = str(label)
    if text == POOLED or not codebook:
        return text
    parts = text.split(LABEL_SEP) if len(by) > 1 else [text]
    if len(parts) != len(by):
        return text
    out = []
    for attribute, code in zip(by, parts):
        name = (codebook.get(str(attribute)) or {}).get(code)
        out.append(f"{name} ({code})" if name and name != code else code)
    return LABEL_SEP.join(out)


def display_names(entries: Sequence[Any], codebook: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """Group label -> readable name for the groups of every result (one mapping for the whole report:
    a label such as ``"M & N"`` means the same groups in every result with the same ``by``)."""
    names: dict[str, str] = {}
    if not codebook:
        return names
    for entry in entries:
        r = entry.result
        by = [str(b) for b in (getattr(r, "by", None) or [])]
        labels: list[Any] = []
        if entry.kind in ("verification", "identification"):
            labels = list(r.by_group["label"])
        elif entry.kind == "systems":
            labels = list(r.by_group["label"])
        elif entry.kind == "covariates":
            labels = list(r.groups)
        elif entry.kind == "classification":
            labels = [*map(str, r.groups), *map(str, r.models)]
        for label in labels:
            shown = readable(label, by, codebook)
            if shown != str(label):
                names.setdefault(str(label), shown)
    return names


def codebook_rows(codebook: Mapping[str, Mapping[str, str]]) -> list[tuple[str, str, str]]:
    """(attribute, code, readable name) for the Data section."""
    return [(a, c, n) for a, codes in codebook.items() for c, n in codes.items()]


def _reorder(group: str, source: Sequence[str], target: Sequence[str]) -> str:
    """A planted group label (attributes in ``source`` order) written in ``target`` order."""
    parts = dict(zip(source, group.split(LABEL_SEP)))
    return LABEL_SEP.join(parts[a] for a in target)


def _kendall_tau(a: Sequence[str], b: Sequence[str]) -> float:
    """Kendall's tau between two orderings of the same items (1: identical, -1: reversed)."""
    pos = {x: i for i, x in enumerate(b)}
    n, score = len(a), 0
    for i in range(n):
        for j in range(i + 1, n):
            score += 1 if pos[a[i]] < pos[a[j]] else -1
    pairs = n * (n - 1) / 2
    return score / pairs if pairs else 1.0


def planted_checks(planted: Mapping[str, Any] | None, entries: Sequence[Any]) -> list[dict[str, Any]]:
    """For every verification result over the planted attributes (and every system of a comparison
    of systems), the planted and the observed ordering of FNMR and FMR (highest first), Kendall's
    tau between them, and whether the audit recovered the planted ordering exactly."""
    if not planted:
        return []
    attributes = [str(a) for a in planted.get("attributes") or []]
    out = []
    audits = []
    for entry in entries:
        if entry.kind == "verification":
            audits.append((entry, entry.name, entry.result))
        elif entry.kind == "systems":  # every system of a comparison, against the population's plan
            audits += [(entry, f"{entry.name} — system {s}", entry.result.audits[s]) for s in entry.result.systems]
    for entry, name, r in audits:
        by = [str(b) for b in r.by]
        if sorted(by) != sorted(attributes):
            continue
        for metric in ("fnmr", "fmr"):
            order = planted.get(f"{metric}_order") or []
            if not order:
                continue
            expected = [_reorder(g, attributes, by) for g in order]
            bg = r.by_group
            observed = [str(x) for x in bg.sort_values(metric, ascending=False, kind="mergesort")["label"]]
            if sorted(observed) != sorted(expected):
                continue
            tau = _kendall_tau(expected, observed)
            out.append({"result": name, "id": entry.id, "metric": metric.upper(), "by": by,
                        "planted": expected, "observed": observed, "tau": tau,
                        "recovered": observed == expected})
    return out
