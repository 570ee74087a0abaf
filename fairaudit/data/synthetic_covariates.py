"""Sample-level covariates of :mod:`fairaudit.synthetic`: image quality, age at capture and capture
device, with planted effects on the scores.

A :class:`CovariateModel` attached to a :class:`~fairaudit.data.synthetic_presets.Preset`
(``Preset(covariates=...)``; the built-in presets ``covariates_explained`` and
``covariates_direct``) makes :func:`fairaudit.synthetic.population` draw, for every sample,

* ``quality`` (numeric, in (0, 1), higher is better):
  ``Q = 1 / (1 + exp(-(logit(m_g) + omega * eta)))`` with ``eta ~ N(0, 1)`` and ``m_g`` the
  group's median quality (``quality_median``, lower in the groups of ``quality_median_by``). It
  multiplies the sample's noise scale by ``exp(lambda_g * (1 - Q))``, ``lambda_g`` the group's
  quality slope (``quality_slope``, steeper in ``quality_slope_by``): low quality -> lower
  genuine scores -> more false non-matches, more so where the slope is steeper;
* ``age`` (numeric, years at capture): an identity's first sample is taken at an age uniform in
  ``age_first`` and every later one ``t ~ U(0, age_span)`` years later. The identity's centre
  drifts as a Brownian motion in time, ``mu_i(t) = mu_i + age_drift * W_i(t)`` with
  ``W_i`` a standard ``d``-dimensional Brownian motion scaled by ``1 / sqrt(d)``, so the centres of
  a first capture and one ``t`` years later have a cosine of about ``1 / sqrt(1 + age_drift**2 * t)``
  (to first order the same for any two captures ``t`` years apart): a larger
  age gap in a genuine pair -> a lower genuine score -> more false non-matches. Past
  ``elderly_age`` the centre also moves along one shared direction ``w`` of the population,
  ``+ elderly_similarity * min(1, (age - elderly_age) / 20) * w``, so two elderly impostors share
  a component and score higher: more false matches among the elderly;
* ``device`` (categorical): one of ``devices``, uniformly and independently of the group; the
  noise scale of a sample taken on a device in ``device_noise`` is multiplied by its factor (a
  worse camera, which the quality score does not see).

These draws come from generators of their own (seeded by the group's seed and a fixed key), so
presets without covariates draw exactly what they drew before. They describe the people and the
images, not a system: :func:`fairaudit.synthetic.systems` gives every system the same covariates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence

import numpy as np

from fairaudit.common import errors

#: mixed with a group's seed to seed its covariate draws (and with all seeds for the elderly direction)
COVARIATE_KEY = 0x5EED_C0F4
_ELDERLY_KEY = 0xE1DE_41
#: the covariates a CovariateModel draws, their kinds and units
COVARIATE_KINDS = {"quality": "numeric", "age": "numeric", "device": "categorical"}
COVARIATE_UNITS = {
    "quality": "image quality in (0, 1), higher is better",
    "age": "age at capture, in years",
    "device": "capture device (a label)",
}

BAD_COVARIATE_MODEL = "CovariateModel {name}={value!r} is out of range: it must be {rule}. Fix: {fix}"
BAD_COVARIATE_KEY = (
    "CovariateModel.{name}: key {value!r} names no group of preset {preset!r}; valid keys are the group "
    "labels {labels} and the attribute values {values}. Fix: use one of them."
)


def _fail(name: str, value: Any, rule: str, fix: str) -> None:
    raise errors.FairauditInputError(BAD_COVARIATE_MODEL.format(name=name, value=value, rule=rule, fix=fix))


def _number(name: str, value: Any, lo: float, hi: float, rule: str, *, open_lo: bool = False,
            open_hi: bool = False) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    v = float(value) if ok else math.nan
    if not ok or not math.isfinite(v) or v < lo or v > hi or (open_lo and v == lo) or (open_hi and v == hi):
        _fail(name, value, rule, "pass a number in that range.")
    return v


def _frozen(mapping: Mapping[str, Any] | None, name: str, check) -> Mapping[str, float]:
    if mapping is None:
        mapping = {}
    if not isinstance(mapping, Mapping):
        _fail(name, mapping, "a dict from a group label or an attribute value to a number",
              f"pass e.g. {name}={{'N': 0.5}}.")
    return MappingProxyType({str(k): check(f"{name}[{k!r}]", v) for k, v in mapping.items()})


@dataclass(frozen=True)
class CovariateModel:
    """The covariates a preset draws for every sample, and their planted effects.

    Parameters
    ----------
    scenario : str
        Name of what the model plants (``"explained"``, ``"direct"`` or your own), saved in
        ``metadata["planted"]["covariates"]["scenario"]``.
    gap_group : str
        The attribute value or group label whose FNMR gap the scenario is about (``"N"``); it
        should be a key of ``quality_median_by``.
    quality_median, quality_median_by : float, dict
        Median quality in (0, 1) of every group, and per group label or attribute value.
    quality_spread : float, default 1.0
        ``omega >= 0``: standard deviation of the quality's logit within a group.
    quality_slope, quality_slope_by : float, dict
        ``lambda >= 0``: the noise scale is multiplied by ``exp(lambda * (1 - Q))``.
    age_first : (float, float), default (18, 70)
        Range of the age (years) of an identity at its first capture.
    age_span : float, default 12
        Later captures are ``U(0, age_span)`` years after the first.
    age_drift : float, default 0.25
        Brownian drift of an identity's centre per square-root year.
    elderly_age, elderly_similarity : float, default 60, 0.6
        Age past which centres move along a shared direction, and the full length of that move
        (reached 20 years later); 0 plants no elderly effect.
    devices : tuple of str, default ("kiosk", "phone", "webcam")
        Capture devices, drawn uniformly per sample; ``()`` draws no device covariate.
    device_noise : dict, default {"webcam": 1.3}
        Noise-scale factor (>= 1) of the worse devices.

    Raises
    ------
    FairauditInputError
        If a setting is out of range.
    """

    scenario: str
    gap_group: str
    quality_median: float = 0.72
    quality_median_by: Mapping[str, float] = field(default_factory=dict)
    quality_spread: float = 1.0
    quality_slope: float = 1.0
    quality_slope_by: Mapping[str, float] = field(default_factory=dict)
    age_first: tuple[float, float] = (18.0, 70.0)
    age_span: float = 12.0
    age_drift: float = 0.25
    elderly_age: float = 60.0
    elderly_similarity: float = 0.6
    devices: tuple[str, ...] = ("kiosk", "phone", "webcam")
    device_noise: Mapping[str, float] = field(default_factory=lambda: {"webcam": 1.3})

    def __post_init__(self) -> None:
        if not isinstance(self.scenario, str) or not self.scenario:
            _fail("scenario", self.scenario, "a non-empty str", "pass e.g. scenario='explained'.")
        if not isinstance(self.gap_group, str) or not self.gap_group:
            _fail("gap_group", self.gap_group, "a non-empty str", "pass e.g. gap_group='N'.")
        median = lambda n, v: _number(n, v, 0.0, 1.0, "a number in (0, 1)", open_lo=True, open_hi=True)  # noqa: E731
        slope = lambda n, v: _number(n, v, 0.0, 10.0, "a number in [0, 10]")  # noqa: E731
        factor = lambda n, v: _number(n, v, 1.0, 10.0, "a number in [1, 10]")  # noqa: E731
        set_ = lambda n, v: object.__setattr__(self, n, v)  # noqa: E731
        set_("quality_median", median("quality_median", self.quality_median))
        set_("quality_median_by", _frozen(self.quality_median_by, "quality_median_by", median))
        set_("quality_spread", _number("quality_spread", self.quality_spread, 0.0, 5.0, "a number in [0, 5]"))
        set_("quality_slope", slope("quality_slope", self.quality_slope))
        set_("quality_slope_by", _frozen(self.quality_slope_by, "quality_slope_by", slope))
        first = self.age_first
        if not (isinstance(first, Sequence) and len(first) == 2):
            _fail("age_first", first, "a (min, max) pair of ages", "pass e.g. age_first=(18, 70).")
        lo = _number("age_first[0]", first[0], 0.0, 120.0, "an age in [0, 120]")
        hi = _number("age_first[1]", first[1], lo, 120.0, "an age in [age_first[0], 120]")
        set_("age_first", (lo, hi))
        set_("age_span", _number("age_span", self.age_span, 0.0, 100.0, "a number of years in [0, 100]"))
        set_("age_drift", _number("age_drift", self.age_drift, 0.0, 5.0, "a number in [0, 5]"))
        set_("elderly_age", _number("elderly_age", self.elderly_age, 0.0, 200.0, "an age in [0, 200]"))
        set_("elderly_similarity", _number("elderly_similarity", self.elderly_similarity, 0.0, 1.0,
                                           "a number in [0, 1]"))
        devices = tuple(self.devices)
        if not all(isinstance(d, str) and d for d in devices) or len(set(devices)) != len(devices):
            _fail("devices", self.devices, "distinct non-empty str labels", "pass e.g. ('kiosk', 'webcam').")
        set_("devices", devices)
        noise = _frozen(self.device_noise, "device_noise", factor)
        unknown = [d for d in noise if d not in devices]
        if unknown:
            _fail("device_noise", dict(noise), f"keyed by the devices {list(devices)}",
                  f"drop {unknown[0]!r} or add it to devices.")
        set_("device_noise", noise)

    def __hash__(self) -> int:
        return hash((self.scenario, self.gap_group, self.quality_median, tuple(self.quality_median_by.items()),
                     self.quality_slope, tuple(self.quality_slope_by.items()), self.age_first))

    @property
    def names(self) -> list[str]:
        """The covariates drawn, in column order."""
        return ["quality", "age"] + (["device"] if self.devices else [])

    def check(self, preset: str, labels: Sequence[str], values: Sequence[Mapping[str, str]]) -> None:
        """Refuse keys that name no group of the preset (labels and their attribute values)."""
        known = set(labels) | {v for vals in values for v in vals.values()}
        for name in ("quality_median_by", "quality_slope_by"):
            for key in getattr(self, name):
                if key not in known:
                    raise errors.FairauditInputError(BAD_COVARIATE_KEY.format(
                        name=name, value=key, preset=preset, labels=list(labels),
                        values=sorted({v for vals in values for v in vals.values()})))
        if self.gap_group not in known:
            raise errors.FairauditInputError(BAD_COVARIATE_KEY.format(
                name="gap_group", value=self.gap_group, preset=preset, labels=list(labels),
                values=sorted({v for vals in values for v in vals.values()})))

    def for_group(self, label: str, values: Mapping[str, str]) -> tuple[float, float]:
        """The group's (median quality, quality slope): attribute-value keys first, its label last."""
        return (_lookup(self.quality_median_by, label, values, self.quality_median),
                _lookup(self.quality_slope_by, label, values, self.quality_slope))


def _lookup(by: Mapping[str, float], label: str, values: Mapping[str, str], default: float) -> float:
    out = default
    for v in values.values():
        if v in by:
            out = by[v]
    return by.get(label, out)


def in_gap_group(model: CovariateModel, label: str, values: Mapping[str, str]) -> bool:
    return model.gap_group == label or model.gap_group in values.values()


# --- drawing ----------------------------------------------------------------------------------
def elderly_direction(seeds: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """The population's shared direction of old age: a unit vector orthogonal to the frame, drawn
    from a generator of its own (seeded by every group's seed), so the layout is not touched."""
    rng = np.random.default_rng(np.random.SeedSequence([*(int(s) for s in seeds), _ELDERLY_KEY]))
    w = rng.standard_normal(frame.shape[0])
    w -= frame @ (frame.T @ w)
    return w / np.linalg.norm(w)


def draw_group(model: CovariateModel, label: str, values: Mapping[str, str], owner: np.ndarray,
               count: int, dim: int, seed: int, elderly: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                               dict[str, np.ndarray]]:
    """A group's covariates and their effects: the shift of every sample's centre (age), the factor
    of its noise scale (quality, device) and the covariate columns.

    Draws, from the group's covariate generator and in this order: the quality logit, the age at
    first capture, the capture offsets, the drift increments and the device.
    """
    crng = np.random.default_rng(np.random.SeedSequence([int(seed), COVARIATE_KEY]))
    n = owner.size
    median, slope = model.for_group(label, values)
    logit = math.log(median / (1.0 - median)) + model.quality_spread * crng.standard_normal(n)
    quality = 1.0 / (1.0 + np.exp(-logit))
    first_age = crng.uniform(model.age_first[0], model.age_first[1], size=count)
    offset = crng.uniform(0.0, model.age_span, size=n)
    steps = crng.standard_normal((n, dim)) / math.sqrt(dim)
    device = (crng.integers(0, len(model.devices), size=n) if model.devices else np.zeros(n, dtype=np.int64))

    # the first sample of every identity is its first capture; later ones come in time order
    starts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    offset[starts] = 0.0
    order = np.lexsort((offset, owner))  # rows of an identity are contiguous: sort offsets within it
    offset = offset[order]
    gaps = np.diff(offset, prepend=0.0)
    gaps[starts] = 0.0
    # a Brownian walk within every identity: the increments summed from its first capture (gap 0)
    walk = np.cumsum(steps * np.sqrt(gaps)[:, None], axis=0)
    walk -= np.repeat(walk[starts], np.diff(np.r_[starts, n]), axis=0)
    age = first_age[owner] + offset
    old = np.clip((age - model.elderly_age) / 20.0, 0.0, 1.0) if model.elderly_similarity else np.zeros(n)
    shift = model.age_drift * walk + (model.elderly_similarity * old)[:, None] * elderly[None, :]

    factor = np.exp(slope * (1.0 - quality))
    table: dict[str, np.ndarray] = {"quality": quality, "age": np.round(age, 2)}
    if model.devices:
        labels = np.array(model.devices)
        factor = factor * np.array([model.device_noise.get(d, 1.0) for d in model.devices])[device]
        table["device"] = labels[device]
    return shift, factor, table


# --- what was planted ---------------------------------------------------------------------------
def planted_covariates(model: CovariateModel, groups: Sequence[tuple[str, str, Mapping[str, str], float]],
                       ) -> dict[str, Any]:
    """``metadata["planted"]["covariates"]``, JSON-safe. ``groups``: ``(label, audit label, values,
    intra_spread)`` of every group."""
    gap = [g for label, g, values, _ in groups if in_gap_group(model, label, values)]
    rest = [(g, s) for label, g, values, s in groups if not in_gap_group(model, label, values)]
    median = {g: model.for_group(label, values)[0] for label, g, values, _ in groups}
    slope = {g: model.for_group(label, values)[1] for label, g, values, _ in groups}
    gap_spread = [s for label, g, values, s in groups if in_gap_group(model, label, values)]
    # a direct effect: the gap groups' own spread differs from the others' (mean over groups)
    excess = (float(np.mean(gap_spread)) - float(np.mean([s for _, s in rest]))) if rest and gap_spread else 0.0
    direct = abs(excess) > 1e-9
    low_q = sorted(g for g in median if median[g] < max(median.values()))
    steep = sorted(g for g in slope if slope[g] > min(slope.values()))
    return {
        "scenario": model.scenario,
        "names": model.names,
        "kinds": {n: COVARIATE_KINDS[n] for n in model.names},
        "units": {n: COVARIATE_UNITS[n] for n in model.names},
        "quality": {
            "drives": "fnmr", "direction": "lower quality -> higher FNMR",
            "median": median, "slope": slope,
            "lower_in": low_q, "steeper_in": steep,
        },
        "age": {
            "drives": "fnmr", "via": "age gap of a genuine pair",
            "direction": "larger age gap -> higher FNMR",
            "first_capture_years": list(model.age_first), "span_years": model.age_span,
            "drift": model.age_drift,
            "impostor": ({"drives": "fmr", "direction": f"impostors older than {model.elderly_age:g} -> higher FMR",
                          "above_age": model.elderly_age, "strength": model.elderly_similarity}
                         if model.elderly_similarity else None),
        },
        "device": ({"drives": "fnmr", "levels": list(model.devices),
                    "noise_factor": {d: model.device_noise.get(d, 1.0) for d in model.devices},
                    "worst": max(model.devices, key=lambda d: model.device_noise.get(d, 1.0)),
                    "direction": "a device with a larger noise_factor -> higher FNMR"}
                   if model.devices else None),
        "gap": {"groups": gap, "value": model.gap_group, "rate": "fnmr",
                "explained_by": "quality", "direct_effect": direct,
                "intra_spread_excess": round(excess, 10),
                "adjusted_odds_ratio": ("about 1" if not direct else "> 1" if excess > 0 else "< 1")},
    }
