"""Synthetic identity-labelled face embeddings with planted, documented biases.

No demographic-labelled face data can be shipped with fairaudit, so this module
generates embeddings on the unit sphere whose demographic differentials are
*planted* by construction. They are the default data of the demo and an oracle
for the tests: an audit of :func:`population` must find what :func:`planted`
says was planted.

The generative model
--------------------
Let ``d`` be the dimension. A random orthonormal frame is drawn once: a common
direction ``f0``, one direction ``e_k`` for every *context* ``k`` (a
combination of the non-gender attribute values; for DiveFace, an ethnicity)
and two gender axes ``u0, v0``. Context centres are
``c_k = sqrt(rho) f0 + sqrt(1 - rho) e_k`` with ``rho = context_similarity``
(a preset setting). A group ``g`` (one combination of all attribute values)
with parameters ``sigma_w = intra_spread``, ``s = identity_similarity``,
``gamma = gender_strength`` and ``theta = gender_angle_deg`` then has

* gender direction ``u_g = cos(theta) u0 + sin(theta) v0``;
* group centre ``G_g = sqrt(1 - gamma**2) c_k + gamma * sign_g * u_g`` with
  ``sign_g = +1`` for the first gender value and ``-1`` for the second;
* identity centres ``mu_i = sqrt(s) G_g + sqrt(1 - s) z_i`` with ``z_i`` a
  uniformly random unit vector orthogonal to the frame, so that two identities
  of the group have centre cosine ``s`` on average (larger ``s`` -> more false
  matches);
* per-identity spread ``sigma_i = sigma_w * exp(tau * xi_i - tau**2 / 2)``,
  ``xi_i ~ N(0, 1)``, ``tau = identity_jitter`` (a few identities are harder
  than others, with mean spread ``sigma_w``);
* per-sample quality ``q = exp(kappa * eta - kappa**2 / 2)``, ``eta ~ N(0, 1)``,
  ``kappa = sample_jitter`` (a few images are poor, which gives the genuine
  scores their heavy low tail);
* samples ``x = normalize(mu_i + q * sigma_i * n / sqrt(d))``,
  ``n ~ N(0, I_d)`` (larger ``sigma_w`` -> more false non-matches).

Scores are cosine similarities. To first order a genuine pair scores
``1 / (1 + sigma_w**2)`` and an impostor pair of the same group
``s / (1 + sigma_w**2)``; impostors of different groups score lower. A larger
``sigma_w`` therefore also pulls impostor scores towards 0: the presets choose
``s`` so that the planted FMR order survives this.

See ``docs/guide/synthetic.md`` for the presets and what an audit should find.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.embedding_set import EmbeddingSet
from fairaudit.data.synthetic_presets import (BAD_PARAMETER, BAD_PRESET, PARAMETERS, PRESETS,  # noqa: F401
                                              GroupSpec, Preset, _check_parameter)

#: the public names, in the order of the original module (the presets are defined in
#: ``synthetic_presets`` and documented here)
__all__ = ["UNKNOWN_PRESET", "UNKNOWN_PARAMETER", "UNKNOWN_GROUP_KEY", "BAD_OVERRIDE", "BAD_PARAMETER",
           "BAD_N_IDENTITIES", "TOO_FEW_IDENTITIES", "BAD_SAMPLES", "BAD_DIM", "BAD_RANDOM_STATE", "BAD_PRESET",
           "PARAMETERS", "GroupSpec", "Preset", "PRESETS", "population", "planted", "describe"]

# --- error messages ---------------------------------------------------------
UNKNOWN_PRESET = (
    "preset={value!r} is not a synthetic preset; available presets: {available}. "
    "Fix: pass one of them, or a fairaudit.synthetic.Preset."
)
UNKNOWN_PARAMETER = (
    "{value!r} is not a group parameter that population() can override; "
    "overridable parameters: {available}. Fix: pass one of them, e.g. "
    "intra_spread={{'N': 0.6}}."
)
UNKNOWN_GROUP_KEY = (
    "{name}: key {value!r} names no group of preset {preset!r}; valid keys are the "
    "group labels {labels} and the attribute values {values}. Fix: use one of them."
)
BAD_OVERRIDE = (
    "{name}={value!r} must be a number (applied to every group) or a dict mapping a "
    "group label or an attribute value to a number. Fix: pass e.g. "
    "{name}={{'N': 0.6}}."
)
BAD_N_IDENTITIES = (
    "n_identities={value!r} must be an integer >= 0 (identities per group) or a dict "
    "mapping a group label or an attribute value to one. Fix: pass e.g. 100 or "
    "{{'HN': 50}}."
)
TOO_FEW_IDENTITIES = (
    "n_identities={value!r} gives {n} identity(ies) in total; an EmbeddingSet needs "
    "at least 2. Fix: ask for more identities."
)
BAD_SAMPLES = (
    "samples_per_identity={value!r} must be an integer >= 1 or a (min, max) pair of "
    "integers with 1 <= min <= max. Fix: pass e.g. 5 or (2, 8)."
)
BAD_DIM = (
    "dim={value!r} must be an integer >= {minimum} for preset {preset!r} (it needs "
    "{frame} orthogonal structure directions plus room for identity noise). Fix: "
    "pass e.g. dim=128."
)
BAD_RANDOM_STATE = (
    "random_state={value!r} must be None, an int or a numpy.random.Generator; got "
    "{type}. Fix: pass e.g. random_state=0."
)


# --- resolving arguments --------------------------------------------------------
def _resolve_preset(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    if isinstance(preset, str) and preset in PRESETS:
        return PRESETS[preset]
    raise errors.FairauditInputError(
        UNKNOWN_PRESET.format(value=preset, available=sorted(PRESETS))
    )


def _attribute_values(p: Preset) -> list[str]:
    return list(dict.fromkeys(spec.values[a] for a in p.attributes for spec in p.groups))


def _match(p: Preset, key: Any, *, name: str) -> tuple[list[int], bool]:
    """Indices of the groups that ``key`` names, and whether it named one group exactly."""
    key_s = str(key)
    for i, spec in enumerate(p.groups):
        if key_s in (spec.label, spec.group):
            return [i], True
    hits = [i for i, spec in enumerate(p.groups) if key_s in spec.values.values()]
    if not hits:
        raise errors.FairauditInputError(
            UNKNOWN_GROUP_KEY.format(name=name, value=key, preset=p.name,
                                     labels=list(p.labels), values=_attribute_values(p))
        )
    return hits, False


def _per_group(p: Preset, value: Any, *, name: str, default: Any) -> list[Any]:
    """Spread a scalar or a {label or attribute value: x} dict over the groups.

    Keys naming an attribute value are applied first, exact group labels last,
    so ``{"N": 0.9, "MN": 1.0}`` gives MN 1.0 and HN 0.9.
    """
    if not isinstance(value, Mapping):
        return [value] * len(p.groups)
    out = [default] * len(p.groups)
    resolved = [(key, *_match(p, key, name=name)) for key in value]
    for exact in (False, True):
        for key, hits, is_exact in resolved:
            if is_exact == exact:
                for i in hits:
                    out[i] = value[key]
    return out


def _apply_overrides(p: Preset, overrides: Mapping[str, Any]) -> tuple[GroupSpec, ...]:
    specs = list(p.groups)
    for name, value in overrides.items():
        if name not in PARAMETERS:
            raise errors.FairauditInputError(
                UNKNOWN_PARAMETER.format(value=name, available=list(PARAMETERS))
            )
        if not isinstance(value, Mapping) and not isinstance(
            value, (int, float, np.integer, np.floating)
        ):
            raise errors.FairauditInputError(BAD_OVERRIDE.format(name=name, value=value))
        new = _per_group(p, value, name=name, default=None)
        for i, v in enumerate(new):
            if v is not None:
                specs[i] = replace(specs[i], **{name: _check_parameter(name, v, specs[i].label)})
    return tuple(specs)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _resolve_counts(p: Preset, n_identities: Any) -> list[int]:
    if not (_is_int(n_identities) or isinstance(n_identities, Mapping)):
        raise errors.FairauditInputError(BAD_N_IDENTITIES.format(value=n_identities))
    counts = _per_group(p, n_identities, name="n_identities", default=100)
    for c in counts:
        if not _is_int(c) or c < 0:
            raise errors.FairauditInputError(BAD_N_IDENTITIES.format(value=n_identities))
    counts = [int(c) for c in counts]
    if sum(counts) < 2:
        raise errors.FairauditInputError(
            TOO_FEW_IDENTITIES.format(value=n_identities, n=sum(counts))
        )
    return counts


def _resolve_samples(samples_per_identity: Any) -> tuple[int, int]:
    value = samples_per_identity
    if _is_int(value):
        lo = hi = int(value)
    elif isinstance(value, (tuple, list)) and len(value) == 2 and all(_is_int(v) for v in value):
        lo, hi = int(value[0]), int(value[1])
    else:
        raise errors.FairauditInputError(BAD_SAMPLES.format(value=value))
    if not 1 <= lo <= hi:
        raise errors.FairauditInputError(BAD_SAMPLES.format(value=value))
    return lo, hi


def _resolve_rng(random_state: Any) -> np.random.Generator:
    if random_state is None or _is_int(random_state) or isinstance(random_state, np.random.Generator):
        try:
            return np.random.default_rng(random_state)
        except ValueError:  # a negative int
            pass
    raise errors.FairauditInputError(
        BAD_RANDOM_STATE.format(value=random_state, type=type(random_state).__name__)
    )


def _frame_size(p: Preset) -> int:
    return len(p.contexts) + 3


# --- generation ---------------------------------------------------------------
def population(
    preset: str | Preset = "diveface",
    *,
    n_identities: int | Mapping[str, int] = 100,
    samples_per_identity: int | tuple[int, int] = 5,
    dim: int = 128,
    random_state: int | np.random.Generator | None = 0,
    **overrides: float | Mapping[str, float],
) -> EmbeddingSet:
    """Draw a synthetic population with the biases planted by ``preset``.

    Parameters
    ----------
    preset : str or Preset, default "diveface"
        A key of :data:`PRESETS` (``"diveface"``, ``"balanced"``) or a Preset.
    n_identities : int or dict, default 100
        Identities per group, or a dict mapping a group label (``"HA"`` or
        ``"H & A"``) or an attribute value (``"A"``: every group with that value)
        to a count; groups the dict does not name get 100. A count may be 0.
    samples_per_identity : int or (int, int), default 5
        Samples of every identity, or an inclusive ``(min, max)`` range drawn
        uniformly per identity.
    dim : int, default 128
        Embedding dimension.
    random_state : int, numpy.random.Generator or None, default 0
        Seed of the only source of randomness. The same seed gives the same set.
    **overrides : float or dict
        Replace planted parameters (any of :data:`PARAMETERS`), either for every
        group (``intra_spread=0.8``) or per group label or attribute value
        (``intra_spread={"N": 0.6}``). Attribute-value keys are applied first,
        then exact group labels.

    Returns
    -------
    EmbeddingSet
        Unit-norm embeddings, identity labels like ``"HA0001"`` and one
        attribute column per preset attribute. Rows come group by group, then
        identity by identity.

    Raises
    ------
    FairauditInputError
        On an unknown preset, parameter or group key, a parameter out of range,
        bad sizes, a too small ``dim`` or a bad ``random_state``.

    Examples
    --------
    >>> from fairaudit import synthetic
    >>> es = synthetic.population(n_identities=20, samples_per_identity=3)
    >>> len(es), es.n_identities, es.attribute_names
    (360, 120, ['gender', 'ethnicity'])
    """
    p = _resolve_preset(preset)
    specs = _apply_overrides(p, overrides)
    counts = _resolve_counts(p, n_identities)
    lo, hi = _resolve_samples(samples_per_identity)
    minimum = _frame_size(p) + 8
    if not _is_int(dim) or dim < minimum:
        raise errors.FairauditInputError(
            BAD_DIM.format(value=dim, minimum=minimum, preset=p.name, frame=_frame_size(p))
        )
    dim = int(dim)
    rng = _resolve_rng(random_state)

    # the shared frame: a common face direction, one direction per context, two gender axes
    frame, _ = np.linalg.qr(rng.standard_normal((dim, _frame_size(p))))
    rho = p.context_similarity
    contexts = {ctx: math.sqrt(rho) * frame[:, 0] + math.sqrt(1.0 - rho) * frame[:, k + 1]
                for k, ctx in enumerate(p.contexts)}
    u0, v0 = frame[:, -2], frame[:, -1]
    signs = dict(zip(p.gender_values, (1.0, -1.0)))
    # one child generator per group: a group's draws do not depend on the others' sizes
    seeds = rng.integers(0, 2**63 - 1, size=len(specs), dtype=np.int64)

    blocks, identities, rows = [], [], []
    for spec, count, seed in zip(specs, counts, seeds):
        if count == 0:
            continue
        grng = np.random.default_rng(int(seed))
        theta = math.radians(spec.gender_angle_deg)
        gender_dir = math.cos(theta) * u0 + math.sin(theta) * v0
        gamma = spec.gender_strength
        sign = signs.get(spec.values.get(p.gender_attribute or "", ""), 0.0)
        centre = math.sqrt(1.0 - gamma**2) * contexts[p._context(spec)] + gamma * sign * gender_dir
        centre /= np.linalg.norm(centre)

        sizes = grng.integers(lo, hi + 1, size=count)
        tau = spec.identity_jitter
        sigma = spec.intra_spread * np.exp(tau * grng.standard_normal(count) - tau**2 / 2)
        z = grng.standard_normal((count, dim))
        z -= (z @ frame) @ frame.T
        z /= np.linalg.norm(z, axis=1, keepdims=True)
        s = spec.identity_similarity
        mu = math.sqrt(s) * centre + math.sqrt(1.0 - s) * z

        owner = np.repeat(np.arange(count), sizes)
        kappa = spec.sample_jitter
        quality = np.exp(kappa * grng.standard_normal(owner.size) - kappa**2 / 2)
        noise = grng.standard_normal((owner.size, dim)) / math.sqrt(dim)
        x = mu[owner] + (sigma[owner] * quality)[:, None] * noise
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        blocks.append(x)

        width = max(4, len(str(count)))
        names = np.array([f"{spec.label}{k + 1:0{width}d}" for k in range(count)])
        identities.append(names[owner])
        rows.append(pd.DataFrame({a: np.full(owner.size, v) for a, v in spec.values.items()}))

    return EmbeddingSet(
        np.vstack(blocks),
        identity=np.concatenate(identities),
        attributes=pd.concat(rows, ignore_index=True),
        value_labels={a: dict(book) for a, book in p.value_labels.items()},
        metadata={"planted": _planted_metadata(p, specs, overridden=bool(overrides))},
    )


def _planted_metadata(p: Preset, specs: tuple[GroupSpec, ...], *, overridden: bool) -> dict[str, Any]:
    """What a population knows it planted, saved with it: the orderings an audit should recover, with
    groups written as audit tables write them (``"M & N"``, attributes in preset order)."""
    labels = {spec.label: spec.group for spec in p.groups}
    return {
        "preset": p.name, "attributes": list(p.attributes),
        # overridden parameters may change the order, so none is claimed then
        "fnmr_order": [] if overridden else [labels[x] for x in p.planted_fnmr_order],
        "fmr_order": [] if overridden else [labels[x] for x in p.planted_fmr_order],
        # 1:N: FNIR follows the genuine spread as FNMR does; FPIR and the crowding of a group's own
        # identities at the top of its non-mated candidate lists follow identity_similarity, as FMR
        "fnir_order": [] if overridden else [labels[x] for x in p.planted_fnmr_order],
        "fpir_order": [] if overridden else [labels[x] for x in p.planted_fmr_order],
        "crowding_order": [] if overridden else [labels[x] for x in p.planted_fmr_order],
        "overridden": overridden,
        "parameters": {spec.group: spec.parameters() for spec in specs},
    }


# --- what was planted -------------------------------------------------------
def planted(preset: str | Preset = "diveface") -> pd.DataFrame:
    """The planted parameters of every group and the rank an audit should find.

    Parameters
    ----------
    preset : str or Preset, default "diveface"

    Returns
    -------
    DataFrame
        One row per group, indexed by the short label (``"HA"``), with columns:
        ``group`` (the audit-table label ``"H & A"``), one column per attribute,
        the parameters in :data:`PARAMETERS`, ``genuine_mean`` and
        ``impostor_mean`` (first-order expected cosine of a genuine pair and of
        a same-group impostor pair: ``1 / (1 + sigma_w**2)`` and
        ``s / (1 + sigma_w**2)``), ``gender_margin`` (first-order distance of a
        sample from the gender boundary along its gender direction,
        ``sqrt(s) * gamma / sqrt(1 + sigma_w**2)``), and ``fnmr_rank`` /
        ``fmr_rank`` (1 = the highest planted rate; every group ranks 1 when no
        ordering is planted), and for 1:N searches (see :func:`search_roles`) ``fnir_rank``
        (FNIR follows the genuine spread, as FNMR) and ``fpir_rank`` (FPIR, and how much a
        group's own identities crowd the top of its non-mated candidate lists, follow
        ``identity_similarity``, as FMR).

    Examples
    --------
    >>> from fairaudit import synthetic
    >>> synthetic.planted("diveface").sort_values("fmr_rank").index.tolist()
    ['MA', 'HA', 'MN', 'HN', 'MB', 'HB']
    """
    p = _resolve_preset(preset)
    records = []
    for spec in p.groups:
        sw2 = spec.intra_spread**2
        rec = {"label": spec.label, "group": spec.group, **spec.values, **spec.parameters()}
        rec["genuine_mean"] = 1.0 / (1.0 + sw2)
        rec["impostor_mean"] = spec.identity_similarity / (1.0 + sw2)
        rec["gender_margin"] = (
            math.sqrt(spec.identity_similarity) * spec.gender_strength / math.sqrt(1.0 + sw2)
            if p.gender_attribute is not None else 0.0
        )
        for col, order in (("fnmr_rank", p.planted_fnmr_order), ("fmr_rank", p.planted_fmr_order),
                           ("fnir_rank", p.planted_fnmr_order), ("fpir_rank", p.planted_fmr_order)):
            rec[col] = order.index(spec.label) + 1 if order else 1
        records.append(rec)
    return pd.DataFrame.from_records(records).set_index("label")


def describe(preset: str | Preset = "diveface") -> str:
    """A human-readable paragraph on what ``preset`` plants.

    Parameters
    ----------
    preset : str or Preset, default "diveface"

    Returns
    -------
    str
    """
    p = _resolve_preset(preset)
    table = planted(p)
    parts = [f"Preset {p.name!r}: {p.description}"]
    per_group = "; ".join(
        f"{label}: intra_spread={row.intra_spread:g}, identity_similarity="
        f"{row.identity_similarity:g}, gender_strength={row.gender_strength:g}, "
        f"gender_angle_deg={row.gender_angle_deg:g}"
        for label, row in table.iterrows()
    )
    parts.append(f"Planted parameters - {per_group}.")
    if p.planted_fnmr_order:
        parts.append("Expected FNMR order (highest first): " + " > ".join(p.planted_fnmr_order) + ".")
    if p.planted_fmr_order:
        parts.append("Expected FMR order (highest first): " + " > ".join(p.planted_fmr_order) + ".")
    if p.planted_fnmr_order or p.planted_fmr_order:
        parts.append("In 1:N searches (search_roles) FNIR follows the FNMR order, and FPIR and the crowding "
                     "of a group's own identities at the top of its non-mated candidate lists follow the FMR "
                     "order.")
    if not (p.planted_fnmr_order or p.planted_fmr_order):
        parts.append("No ordering is planted: an audit should find no systematic difference.")
    return " ".join(parts)


# --- a 1:N protocol ---------------------------------------------------------
def search_roles(
    data: EmbeddingSet,
    *,
    nonmated_share: float = 0.2,
    gallery_samples: int = 1,
    random_state: int | np.random.Generator | None = 0,
) -> np.ndarray:
    """The gallery/probe role of every sample of ``data``, for ``identification_audit(gallery=roles)``.

    The split is the audit's own seeded split (:class:`fairaudit.identification.GallerySplit`),
    stratified by the combination of every attribute: within each group, ``nonmated_share`` of
    the identities are held out (their samples are non-mated probes), every other identity
    enrolls ``gallery_samples`` samples and its other samples are mated probes. With fixed roles,
    every audit of the population (by any attribute) searches the same gallery, and the planted
    1:N effects of the preset (``planted()``: ``fnir_rank``, ``fpir_rank``) hold.

    Parameters
    ----------
    data : EmbeddingSet
        A population (from :func:`population`, or any EmbeddingSet).
    nonmated_share, gallery_samples
        As :class:`fairaudit.identification.GallerySplit`.
    random_state : int, Generator or None, default 0

    Returns
    -------
    ndarray of str
        ``"gallery"`` or ``"probe"`` per row, in the set's order.

    Examples
    --------
    >>> from fairaudit import synthetic
    >>> roles = synthetic.search_roles(synthetic.population(n_identities=20, dim=16))
    >>> sorted(set(roles))
    ['gallery', 'probe']
    """
    from fairaudit.data.groups import make_groups
    from fairaudit.data.gallery_protocol import GALLERY_ROLE, PROBE_ROLE, GallerySplit, split_rows

    if not isinstance(data, EmbeddingSet):
        raise errors.FairauditInputError(
            f"data is a {type(data).__name__}, not an EmbeddingSet. Fix: pass a population, e.g. "
            "synthetic.search_roles(synthetic.population()).")
    split = GallerySplit(nonmated_share=nonmated_share, samples=gallery_samples)
    names, ident = np.unique(data.identity, return_inverse=True)
    first = np.zeros(len(names), dtype=np.int64)
    first[ident[::-1]] = np.arange(len(ident))[::-1]
    by = tuple(data.attribute_names)
    if by:
        codes = make_groups({a: data.column(a)[first] for a in by}, by).codes
    else:
        codes = np.zeros(len(names), dtype=np.int64)
    gallery_rows, _ = split_rows(ident, codes, split, _resolve_rng(random_state))
    role = np.full(len(data), PROBE_ROLE, dtype="<U7")
    role[gallery_rows] = GALLERY_ROLE
    return role
