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

:func:`systems` draws several face-recognition systems of one population, each with its own
parameters and sample noise (same identities, centres and image quality), and :func:`planted_systems`
says how they should compare.

Covariates
----------
A preset with a :class:`CovariateModel` (``covariates_explained``, ``covariates_direct``) also draws,
per sample, ``quality`` (numeric in (0, 1), higher is better), ``age`` (numeric, years at capture)
and ``device`` (categorical), an observed part of the image noise next to the hidden ``q``: the noise
scale is multiplied by ``exp(lambda_g * (1 - quality))`` (and a device factor), an identity's centre
drifts with the years between its captures, and elderly centres share a direction (the model is in
:mod:`fairaudit.data.synthetic_covariates`). ``metadata["planted"]["covariates"]`` then says what was
planted, JSON-safe: ``scenario``; ``names``, ``kinds`` and ``units`` of the covariates; ``quality``
(``drives`` = ``"fnmr"``, ``direction``, per-group ``median`` and ``slope``, the groups it is
``lower_in`` and ``steeper_in``); ``age`` (``drives``, ``via`` the age gap of a genuine pair,
``direction``, ``first_capture_years``, ``span_years``, ``drift`` and ``impostor``: its ``drives``
= ``"fmr"``, ``direction``, ``above_age``, ``strength``, or None); ``device`` (``drives``,
``levels``, ``noise_factor``, ``worst``, ``direction``, or None); and ``gap`` (the ``groups`` and
attribute ``value`` whose FNMR gap the scenario is about, its ``rate``, ``explained_by`` =
``"quality"``, ``direct_effect``: whether a group effect remains after adjusting for quality, i.e.
whether the groups' own ``intra_spread`` differs from the others', ``intra_spread_excess``: their mean
``intra_spread`` minus the others', and the ``adjusted_odds_ratio`` to expect: ``"about 1"``,
``"> 1"`` or ``"< 1"``).

See ``docs/guide/synthetic.md`` for the presets and what an audit should find. The machinery (argument
checks, the shared layout, the draws of every group) is in :mod:`fairaudit.data.synthetic_model`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data.embedding_set import EmbeddingSet
from fairaudit.data.synthetic_covariates import COVARIATE_KINDS, CovariateModel, in_gap_group
from fairaudit.data.synthetic_model import (  # noqa: F401 - the error messages are public here
    _SYSTEM_RANKS, BAD_DIM, BAD_N_IDENTITIES, BAD_OVERRIDE, BAD_RANDOM_STATE, BAD_SAMPLES, BAD_SYSTEM_NAME,
    BAD_SYSTEM_OVERRIDES, BAD_SYSTEMS, NO_DEFAULT_SYSTEMS, SYSTEM_PROBLEM, TOO_FEW_IDENTITIES, UNKNOWN_GROUP_KEY,
    UNKNOWN_PARAMETER, UNKNOWN_PRESET, _apply_overrides, _draw, _Layout, _planted_metadata, _resolve_counts,
    _resolve_dim, _resolve_preset, _resolve_rng, _resolve_samples, _resolve_systems, _system_noise_key,
    _system_record)
from fairaudit.data.synthetic_presets import (BAD_PARAMETER, BAD_PRESET, DEFAULT_SYSTEMS, PARAMETERS,  # noqa: F401
                                              PRESETS, GroupSpec, Preset)

#: the public names, in the order of the original module (the presets are defined in
#: ``synthetic_presets`` and documented here)
__all__ = ["UNKNOWN_PRESET", "UNKNOWN_PARAMETER", "UNKNOWN_GROUP_KEY", "BAD_OVERRIDE", "BAD_PARAMETER",
           "BAD_N_IDENTITIES", "TOO_FEW_IDENTITIES", "BAD_SAMPLES", "BAD_DIM", "BAD_RANDOM_STATE", "BAD_PRESET",
           "PARAMETERS", "GroupSpec", "Preset", "PRESETS", "population", "planted", "describe",
           "BAD_SYSTEMS", "BAD_SYSTEM_NAME", "BAD_SYSTEM_OVERRIDES", "SYSTEM_PROBLEM", "NO_DEFAULT_SYSTEMS",
           "DEFAULT_SYSTEMS", "systems", "planted_systems", "CovariateModel"]


def _covariate_kinds(p: Preset) -> dict[str, str] | None:
    return {name: COVARIATE_KINDS[name] for name in p.covariates.names} if p.covariates is not None else None


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
        A key of :data:`PRESETS` (``"diveface"``, ``"balanced"``, ``"covariates_explained"``,
        ``"covariates_direct"``) or a Preset.
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
        identity by identity. A preset with covariates adds the covariates
        ``quality``, ``age`` and ``device`` and ``metadata["planted"]["covariates"]``.

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
    dim = _resolve_dim(p, dim)
    rng = _resolve_rng(random_state)
    layout = _Layout.draw(p, dim, rng)
    embeddings, identity, attributes, covariates = _draw(p, specs, counts, lo, hi, layout)
    return EmbeddingSet(
        embeddings,
        identity=identity,
        attributes=attributes,
        covariates=covariates,
        covariate_kinds=_covariate_kinds(p),
        value_labels={a: dict(book) for a, book in p.value_labels.items()},
        metadata={"planted": _planted_metadata(p, specs, overridden=bool(overrides))},
    )




def systems(
    preset: str | Preset = "diveface",
    *,
    n_identities: int | Mapping[str, int] = 100,
    samples_per_identity: int | tuple[int, int] = 5,
    dim: int = 128,
    systems: Mapping[str, Mapping[str, Any]] | None = None,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, EmbeddingSet]:
    """Several face-recognition systems of one synthetic population, each with its own planted profile.

    Every system holds the same samples in the same order: the same identities, attributes and
    codebook, and the same people and images underneath (identity centres, the per-identity
    difficulty and the per-sample image quality are drawn once). What differs is how each system
    embeds them: its group parameters (``population(**overrides)``, here one dict per system) and
    its own per-sample noise, seeded by ``random_state`` and the system's name. Two systems with
    the same overrides are therefore two equally good systems, not one system twice; renaming a
    system redraws its noise.

    Parameters
    ----------
    preset : str or Preset, default "diveface"
        As :func:`population`.
    n_identities, samples_per_identity, dim
        As :func:`population`; shared by every system.
    systems : dict, optional
        ``{name: overrides}``: a non-empty dict from a system name (str) to a dict of parameter
        overrides, each as :func:`population` takes them (``{"intra_spread": {"N": 0.9}}``; ``{}``
        for the preset unchanged). Default: :data:`DEFAULT_SYSTEMS`, two systems of the DiveFace
        layout: ``"accurate"`` (lower pooled error, larger group differences) and ``"fair"``
        (higher pooled error, smaller group differences); :func:`planted_systems` says what they
        plant.
    random_state : int, numpy.random.Generator or None, default 0
        Resolved once; the same seed gives the same sets.

    Returns
    -------
    dict of str to EmbeddingSet
        In the order of ``systems``. Each set's ``metadata["planted"]`` is what
        :func:`population` records (its parameters, and no planted order once overridden), and
        ``metadata["system"]`` the system's name, the names of all systems, its overrides and, for
        the default systems, its description and ranks (as :func:`planted_systems`).

    Raises
    ------
    FairauditInputError
        For an empty or non-dict ``systems``, a system name that is not a non-empty str, overrides
        that are not a dict, an unknown parameter or group key or a value out of range (the message
        names the system), the default systems with a preset of another layout, and everything
        :func:`population` refuses.

    Examples
    --------
    >>> from fairaudit import synthetic
    >>> sets = synthetic.systems(n_identities=20, samples_per_identity=3)
    >>> list(sets), len(sets["accurate"]), bool((sets["accurate"].identity == sets["fair"].identity).all())
    (['accurate', 'fair'], 360, True)
    """
    p = _resolve_preset(preset)
    resolved, default = _resolve_systems(p, systems)
    counts = _resolve_counts(p, n_identities)
    lo, hi = _resolve_samples(samples_per_identity)
    dim = _resolve_dim(p, dim)
    layout = _Layout.draw(p, dim, _resolve_rng(random_state))
    names = list(resolved)
    out: dict[str, EmbeddingSet] = {}
    for name, (overrides, specs) in resolved.items():
        embeddings, identity, attributes, covariates = _draw(p, specs, counts, lo, hi, layout,
                                                             noise_key=_system_noise_key(name))
        out[name] = EmbeddingSet(
            embeddings, identity=identity, attributes=attributes,
            covariates=covariates, covariate_kinds=_covariate_kinds(p),
            value_labels={a: dict(book) for a, book in p.value_labels.items()},
            metadata={"planted": _planted_metadata(p, specs, overridden=bool(overrides)),
                      "system": _system_record(name, overrides, names, default)})
    return out


def planted_systems(
    preset: str | Preset = "diveface",
    systems: Mapping[str, Mapping[str, Any]] | None = None,
) -> pd.DataFrame:
    """What :func:`systems` plants in every system, and how the systems should compare.

    Parameters
    ----------
    preset : str or Preset, default "diveface"
    systems : dict, optional
        As :func:`systems`; default the two default systems.

    Returns
    -------
    DataFrame
        One row per system, indexed by name (``system``), with columns ``description``,
        ``pooled_fnmr_rank`` (1 = the highest pooled FNMR at the system's own threshold of pooled
        FMR = 1e-3: the least accurate), ``fnmr_max_min_rank`` and ``fmr_max_min_rank`` (1 = the
        largest max/min ratio of the per-group FNMR or FMR at that threshold, by every attribute
        of the preset: the least fair), ``overrides`` (the system's dict) and ``parameters`` (the
        resulting ``{group: {parameter: value}}``, groups as audit tables write them). The ranks
        are claimed for the default systems only; for your own systems they are missing
        (``pd.NA``), as :func:`population` claims no order once a parameter is overridden.

    Raises
    ------
    FairauditInputError
        As :func:`systems`.

    Examples
    --------
    >>> from fairaudit import synthetic
    >>> table = synthetic.planted_systems()
    >>> table["pooled_fnmr_rank"].to_dict(), table["fnmr_max_min_rank"].to_dict()
    ({'accurate': 2, 'fair': 1}, {'accurate': 1, 'fair': 2})
    """
    p = _resolve_preset(preset)
    resolved, default = _resolve_systems(p, systems)
    names = list(resolved)
    records = []
    for name, (overrides, specs) in resolved.items():
        record = _system_record(name, overrides, names, default)
        records.append({"system": name, "description": record["description"],
                        **{rank: record[rank] for rank in _SYSTEM_RANKS},
                        "overrides": overrides, "parameters": {spec.group: spec.parameters() for spec in specs}})
    table = pd.DataFrame.from_records(records).set_index("system")
    for rank in _SYSTEM_RANKS:
        table[rank] = table[rank].astype("Int64")
    return table


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
        ``identity_similarity``, as FMR). A preset with covariates adds ``quality_median``
        and ``quality_slope`` (the group's median image quality and quality slope) and
        ``gap_group`` (True for the groups whose FNMR gap its scenario is about); its rates differ
        through the covariates, not by a planted order, so every group ranks 1.

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
        if p.covariates is not None:
            rec["quality_median"], rec["quality_slope"] = p.covariates.for_group(spec.label, spec.values)
            rec["gap_group"] = in_gap_group(p.covariates, spec.label, spec.values)
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
    if p.covariates is not None:
        cov = _planted_metadata(p, p.groups, overridden=False)["covariates"]
        parts.append(
            f"Covariates {cov['names']} (scenario {cov['scenario']!r}): lower quality raises FNMR, more "
            f"steeply in {cov['quality']['steeper_in']}; quality is lower in {cov['quality']['lower_in']}; "
            "a larger age gap raises FNMR"
            + (f"; impostors older than {cov['age']['impostor']['above_age']:g} raise FMR"
               if cov["age"]["impostor"] else "")
            + (f"; device {cov['device']['worst']!r} raises FNMR" if cov["device"] else "")
            + f". The FNMR gap of {cov['gap']['groups']} is "
            + ("partly explained by quality and a direct group effect remains after adjustment."
               if cov["gap"]["direct_effect"] else "entirely explained by quality (adjusted odds ratio about 1)."))
    elif not (p.planted_fnmr_order or p.planted_fmr_order):
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
    >>> sorted(set(roles.tolist()))
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
