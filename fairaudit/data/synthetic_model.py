"""The generative model behind :mod:`fairaudit.synthetic`: its arguments resolved and checked (presets,
overrides, sizes, seeds, several systems), the layout a population shares, and the draws of every group.

:mod:`fairaudit.synthetic` holds the public functions and documents the model; this module holds their
machinery and error messages, which ``synthetic`` re-exports.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, replace
from typing import Any, Mapping

import numpy as np
import pandas as pd

from fairaudit.common import errors
from fairaudit.data import synthetic_covariates as _cov
from fairaudit.data.synthetic_presets import (DEFAULT_SYSTEM_CLAIMS, DEFAULT_SYSTEMS, PARAMETERS, PRESETS,
                                              SYSTEM_GROUPS, GroupSpec, Preset, _check_parameter)

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

BAD_SYSTEMS = (
    "systems={value!r} must be None (the default systems {defaults}) or a non-empty dict mapping a "
    "system name to a dict of parameter overrides. Fix: pass e.g. "
    "systems={{'A': {{'intra_spread': 0.7}}, 'B': {{'intra_spread': {{'N': 1.0}}}}}}."
)
BAD_SYSTEM_NAME = (
    "systems: key {value!r} ({type}) is not a system name; a name is a non-empty str. Fix: name "
    "every system with a string, e.g. {{'A': {{...}}, 'B': {{...}}}}."
)
BAD_SYSTEM_OVERRIDES = (
    "systems[{name!r}]={value!r} must be a dict of parameter overrides, keyed by {available}. Fix: "
    "pass e.g. {{'intra_spread': {{'N': 0.9}}}}, or {{}} for the preset as it is."
)
SYSTEM_PROBLEM = "systems[{name!r}]: {message}"
NO_DEFAULT_SYSTEMS = (
    "systems=None draws the default systems {names}, whose overrides name the groups {labels} of the "
    "DiveFace layout; preset {preset!r} has the groups {found}. Fix: pass systems= with overrides for "
    "its groups, e.g. systems={{'A': {{}}, 'B': {{'intra_spread': 1.0}}}}."
)


# --- resolving arguments --------------------------------------------------------
def _resolve_preset(preset: str | Preset) -> Preset:
    if isinstance(preset, Preset):
        return preset
    if isinstance(preset, str) and preset in PRESETS:
        return PRESETS[preset]
    plain = sorted(name for name, p in PRESETS.items() if p.covariates is None)
    with_covariates = sorted(name for name, p in PRESETS.items() if p.covariates is not None)
    available = f"{plain}" + (f" and, with sample covariates, {with_covariates}" if with_covariates else "")
    raise errors.FairauditInputError(UNKNOWN_PRESET.format(value=preset, available=available))


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



def _resolve_dim(p: Preset, dim: Any) -> int:
    minimum = _frame_size(p) + 8
    if not _is_int(dim) or dim < minimum:
        raise errors.FairauditInputError(
            BAD_DIM.format(value=dim, minimum=minimum, preset=p.name, frame=_frame_size(p))
        )
    return int(dim)


@dataclass(frozen=True, eq=False)
class _Layout:
    """What every group of a population shares: the frame, the context centres, the gender axes,
    and one seed per group (drawn in this order from the population's generator)."""

    frame: np.ndarray
    contexts: dict[tuple[str, ...], np.ndarray]
    u0: np.ndarray
    v0: np.ndarray
    seeds: np.ndarray

    @classmethod
    def draw(cls, p: Preset, dim: int, rng: np.random.Generator) -> "_Layout":
        # the shared frame: a common face direction, one direction per context, two gender axes
        frame, _ = np.linalg.qr(rng.standard_normal((dim, _frame_size(p))))
        rho = p.context_similarity
        contexts = {ctx: math.sqrt(rho) * frame[:, 0] + math.sqrt(1.0 - rho) * frame[:, k + 1]
                    for k, ctx in enumerate(p.contexts)}
        # one child generator per group: a group's draws do not depend on the others' sizes
        seeds = rng.integers(0, 2**63 - 1, size=len(p.groups), dtype=np.int64)
        return cls(frame, contexts, frame[:, -2], frame[:, -1], seeds)


def _draw(p: Preset, specs: tuple[GroupSpec, ...], counts: list[int], lo: int, hi: int, layout: _Layout,
          noise_key: int | None = None) -> tuple[np.ndarray, np.ndarray, pd.DataFrame, pd.DataFrame | None]:
    """Embeddings, identities, attributes and covariates (None unless the preset has a
    :class:`~fairaudit.data.synthetic_covariates.CovariateModel`) of every group, group by group.

    A group draws, from its own generator and in this order, the sizes of its identities, their
    spread jitter, their centre directions, the image quality of every sample and the sample noise.
    None of these draws depends on the group's parameters, which only scale and mix them: so two
    calls with the same layout and different ``specs`` hold the same identities and samples.
    With ``noise_key`` (an int), the sample noise alone comes from a generator seeded by the group's
    seed and that key instead, and the other draws stay those of ``noise_key=None``. Covariates come
    from generators of their own (:func:`~fairaudit.data.synthetic_covariates.draw_group`), which
    leave every other draw as it is without them.
    """
    frame, u0, v0 = layout.frame, layout.u0, layout.v0
    dim = frame.shape[0]
    signs = dict(zip(p.gender_values, (1.0, -1.0)))
    blocks, identities, rows, covariates = [], [], [], []
    model = p.covariates
    elderly = _cov.elderly_direction(layout.seeds, frame) if model is not None else None
    for spec, count, seed in zip(specs, counts, layout.seeds):
        if count == 0:
            continue
        grng = np.random.default_rng(int(seed))
        theta = math.radians(spec.gender_angle_deg)
        gender_dir = math.cos(theta) * u0 + math.sin(theta) * v0
        gamma = spec.gender_strength
        sign = signs.get(spec.values.get(p.gender_attribute or "", ""), 0.0)
        centre = math.sqrt(1.0 - gamma**2) * layout.contexts[p._context(spec)] + gamma * sign * gender_dir
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
        nrng = grng if noise_key is None else np.random.default_rng(
            np.random.SeedSequence([int(seed), int(noise_key)]))
        noise = nrng.standard_normal((owner.size, dim)) / math.sqrt(dim)
        if model is None:
            x = mu[owner] + (sigma[owner] * quality)[:, None] * noise
        else:
            shift, factor, table = _cov.draw_group(model, spec.label, spec.values, owner, count, dim,
                                                   int(seed), elderly)
            x = mu[owner] + shift + (sigma[owner] * quality * factor)[:, None] * noise
            covariates.append(pd.DataFrame(table))
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        blocks.append(x)

        width = max(4, len(str(count)))
        names = np.array([f"{spec.label}{k + 1:0{width}d}" for k in range(count)])
        identities.append(names[owner])
        rows.append(pd.DataFrame({a: np.full(owner.size, v) for a, v in spec.values.items()}))
    table = pd.concat(covariates, ignore_index=True) if model is not None else None
    return np.vstack(blocks), np.concatenate(identities), pd.concat(rows, ignore_index=True), table


def _planted_metadata(p: Preset, specs: tuple[GroupSpec, ...], *, overridden: bool) -> dict[str, Any]:
    """What a population knows it planted, saved with it: the orderings an audit should recover, with
    groups written as audit tables write them (``"M & N"``, attributes in preset order)."""
    labels = {spec.label: spec.group for spec in p.groups}
    out = {
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
    if p.covariates is not None:
        out["covariates"] = _cov.planted_covariates(
            p.covariates, [(spec.label, spec.group, spec.values, spec.intra_spread) for spec in specs])
    return out


# --- several systems of one population ---------------------------------------------------------
def _clean_overrides(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """JSON-safe copy of checked overrides: floats, and str keys for per-group dicts."""
    return {str(name): ({str(k): float(v) for k, v in value.items()} if isinstance(value, Mapping)
                        else float(value))
            for name, value in overrides.items()}


def _resolve_systems(p: Preset, systems: Any) -> tuple[dict[str, tuple[dict[str, Any], tuple[GroupSpec, ...]]],
                                                        bool]:
    """``{name: (overrides, specs)}`` in the caller's order, every override checked against ``p``, and
    whether these are the default systems."""
    default = systems is None
    if default:
        if set(p.labels) != set(SYSTEM_GROUPS):
            raise errors.FairauditInputError(NO_DEFAULT_SYSTEMS.format(
                names=list(DEFAULT_SYSTEMS), labels=list(SYSTEM_GROUPS), preset=p.name, found=list(p.labels)))
        systems = DEFAULT_SYSTEMS
    if not isinstance(systems, Mapping) or not systems:
        raise errors.FairauditInputError(BAD_SYSTEMS.format(value=systems, defaults=list(DEFAULT_SYSTEMS)))
    out: dict[str, tuple[dict[str, Any], tuple[GroupSpec, ...]]] = {}
    for name, overrides in systems.items():
        if not isinstance(name, str) or not name:
            raise errors.FairauditInputError(BAD_SYSTEM_NAME.format(value=name, type=type(name).__name__))
        if not isinstance(overrides, Mapping):
            raise errors.FairauditInputError(BAD_SYSTEM_OVERRIDES.format(
                name=name, value=overrides, available=list(PARAMETERS)))
        try:
            specs = _apply_overrides(p, overrides)
        except errors.FairauditInputError as exc:
            raise errors.FairauditInputError(SYSTEM_PROBLEM.format(name=name, message=exc)) from None
        out[name] = (_clean_overrides(overrides), specs)
    return out, default


def _system_noise_key(name: str) -> int:
    """A stable 64-bit key of a system name: it seeds the system's own sample noise."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()[:8], "little")


def _system_record(name: str, overrides: dict[str, Any], names: list[str], default: bool) -> dict[str, Any]:
    claims = DEFAULT_SYSTEM_CLAIMS[name] if default else {}
    return {"name": name, "systems": list(names), "overrides": overrides,
            "description": claims.get("description", ""),
            **{rank: claims.get(rank) for rank in _SYSTEM_RANKS}}


#: the claims that planted_systems() makes, system against system (1 = the highest value)
_SYSTEM_RANKS = ("pooled_fnmr_rank", "fnmr_max_min_rank", "fmr_max_min_rank")
