"""The presets of :mod:`fairaudit.synthetic`: what a synthetic population plants.

:class:`GroupSpec` holds the planted parameters of one demographic group, :class:`Preset` a named
population of groups with the FNMR and FMR orderings an audit should find, and :data:`PRESETS`
the built-in ones (``diveface``, ``balanced``, and ``covariates_explained`` / ``covariates_direct``,
whose samples carry covariates: see :mod:`fairaudit.data.synthetic_covariates`). The generative model
that turns them into embeddings is described in :mod:`fairaudit.synthetic`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from fairaudit.common import errors
from fairaudit.data.groups import LABEL_SEP
from fairaudit.data.synthetic_covariates import CovariateModel

BAD_PARAMETER = (
    "{name}={value!r} for group {group!r} is out of range: it must be {rule}. Fix: "
    "pass a value in that range."
)
BAD_PRESET = "preset {name!r} is inconsistent: {problem}. Fix: {fix}"

#: the GroupSpec fields that population(**overrides) may change
PARAMETERS = (
    "intra_spread",
    "identity_similarity",
    "gender_strength",
    "gender_angle_deg",
    "identity_jitter",
    "sample_jitter",
)

_RULES = {
    "intra_spread": ("a finite number >= 0", lambda v: 0.0 <= v < math.inf),
    "identity_similarity": ("a number in [0, 1)", lambda v: 0.0 <= v < 1.0),
    "gender_strength": ("a number in [0, 1]", lambda v: 0.0 <= v <= 1.0),
    "gender_angle_deg": ("a finite number", lambda v: math.isfinite(v)),
    "identity_jitter": ("a number in [0, 2]", lambda v: 0.0 <= v <= 2.0),
    "sample_jitter": ("a number in [0, 2]", lambda v: 0.0 <= v <= 2.0),
}


def _check_parameter(name: str, value: Any, group: str) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    rule, test = _RULES[name]
    if not ok or not test(float(value)):
        raise errors.FairauditInputError(
            BAD_PARAMETER.format(name=name, value=value, group=group, rule=rule)
        )
    return float(value)


@dataclass(frozen=True)
class GroupSpec:
    """Planted parameters of one demographic group.

    Parameters
    ----------
    values : dict of str to str
        The group's value of every attribute, in attribute order, e.g.
        ``{"gender": "M", "ethnicity": "N"}``.
    intra_spread : float
        ``sigma_w >= 0``: spread of an identity's samples around its centre.
        Drives FNMR: genuine scores are about ``1 / (1 + sigma_w**2)``.
    identity_similarity : float
        ``s`` in [0, 1): mean cosine between the centres of two identities of
        the group. Drives FMR: same-group impostor scores are about
        ``s / (1 + sigma_w**2)``.
    gender_strength : float, default 0.25
        ``gamma`` in [0, 1]: how far the group centre sits along its gender
        direction. The gender margin of an identity centre is ``sqrt(s) * gamma``.
    gender_angle_deg : float, default 0.0
        Angle of the group's gender direction to the shared direction ``u0``.
        Give both genders of one context the same angle; contexts with
        different angles make gender classifiers transfer worse between them.
    identity_jitter : float, default 0.1
        ``tau`` in [0, 2]: log-normal spread of the per-identity ``sigma``.
    sample_jitter : float, default 0.45
        ``kappa`` in [0, 2]: log-normal spread of the per-sample noise scale
        (image quality).

    Raises
    ------
    FairauditInputError
        If a parameter is out of range.
    """

    values: Mapping[str, str]
    intra_spread: float
    identity_similarity: float
    gender_strength: float = 0.25
    gender_angle_deg: float = 0.0
    identity_jitter: float = 0.1
    sample_jitter: float = 0.45

    def __post_init__(self) -> None:
        clean = {str(k): str(v) for k, v in dict(self.values).items()}
        object.__setattr__(self, "values", MappingProxyType(clean))
        for name in PARAMETERS:
            object.__setattr__(self, name, _check_parameter(name, getattr(self, name), self.label))

    def __hash__(self) -> int:
        return hash((tuple(self.values.items()), *(getattr(self, n) for n in PARAMETERS)))

    @property
    def label(self) -> str:
        """Short label: the attribute values joined, e.g. ``'HA'`` (the DiveFace code)."""
        return "".join(self.values.values())

    @property
    def group(self) -> str:
        """Label as fairaudit audit tables write it, e.g. ``'H & A'``."""
        return LABEL_SEP.join(self.values.values())

    def parameters(self) -> dict[str, float]:
        """The planted numbers of the group, by parameter name."""
        return {name: getattr(self, name) for name in PARAMETERS}


@dataclass(frozen=True)
class Preset:
    """A named population: its groups, their planted parameters and expected orderings.

    Parameters
    ----------
    name : str
        Key of the preset in :data:`PRESETS`.
    attributes : tuple of str
        Attribute names, in the order of every ``GroupSpec.values``.
    groups : tuple of GroupSpec
        One spec per group; each combination of attribute values at most once.
    description : str
        One paragraph on what is planted and why.
    planted_fnmr_order : tuple of str
        Group labels from the highest to the lowest planted FNMR, or ``()`` when
        no ordering is planted.
    planted_fmr_order : tuple of str
        Group labels from the highest to the lowest planted FMR, or ``()``.
    gender_attribute : str or None, default "gender"
        The attribute encoded along the gender directions (at most two values;
        the first value seen gets ``sign = +1``). None: no gender encoding.
    context_similarity : float, default 0.75
        ``rho`` in [0, 1): cosine between the centres of two contexts (e.g.
        two ethnicities). Larger values make cross-group impostors score
        closer to same-group impostors.
    value_labels : mapping, optional
        The codebook of the attribute values, ``{attribute: {value: readable}}``,
        given to every population drawn (``EmbeddingSet.value_labels``).
    covariates : CovariateModel or None, default None
        Sample-level covariates (quality, age, device) to draw with every population, and their
        planted effects (:mod:`fairaudit.data.synthetic_covariates`). None: no covariates.

    Raises
    ------
    FairauditInputError
        If the groups, orderings or settings are inconsistent.
    """

    name: str
    attributes: tuple[str, ...]
    groups: tuple[GroupSpec, ...]
    description: str
    planted_fnmr_order: tuple[str, ...] = ()
    planted_fmr_order: tuple[str, ...] = ()
    gender_attribute: str | None = "gender"
    context_similarity: float = 0.75
    value_labels: Mapping[str, Mapping[str, str]] | None = None
    covariates: CovariateModel | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_labels", MappingProxyType(
            {str(a): MappingProxyType({str(k): str(v) for k, v in dict(book).items()})
             for a, book in dict(self.value_labels or {}).items()}))
        object.__setattr__(self, "attributes", tuple(self.attributes))
        object.__setattr__(self, "groups", tuple(self.groups))
        object.__setattr__(self, "planted_fnmr_order", tuple(self.planted_fnmr_order))
        object.__setattr__(self, "planted_fmr_order", tuple(self.planted_fmr_order))
        labels = self.labels
        if not 0.0 <= float(self.context_similarity) < 1.0:
            self._fail(f"context_similarity={self.context_similarity!r} is not in [0, 1)",
                       "pass a value such as 0.5.")
        if not self.groups:
            self._fail("it has no groups", "give at least one GroupSpec.")
        for spec in self.groups:
            if tuple(spec.values) != self.attributes:
                self._fail(
                    f"group {spec.label!r} has attributes {list(spec.values)} but the preset "
                    f"declares {list(self.attributes)}",
                    "give every GroupSpec.values the preset's attributes, in order.",
                )
        if len(set(labels)) != len(labels):
            self._fail(f"group labels repeat: {list(labels)}", "give each group distinct values.")
        for name, order in (("planted_fnmr_order", self.planted_fnmr_order),
                            ("planted_fmr_order", self.planted_fmr_order)):
            if order and sorted(order) != sorted(labels):
                self._fail(
                    f"{name}={order} is not an ordering of the group labels {list(labels)}",
                    f"list every group label exactly once, or leave {name} empty.",
                )
        if self.gender_attribute is not None:
            if self.gender_attribute not in self.attributes:
                self._fail(
                    f"gender_attribute={self.gender_attribute!r} is not one of its attributes "
                    f"{list(self.attributes)}",
                    "name one of the attributes, or pass gender_attribute=None.",
                )
            if len(self.gender_values) > 2:
                self._fail(
                    f"gender attribute {self.gender_attribute!r} has values "
                    f"{list(self.gender_values)}; the model encodes at most two",
                    "use two values, or pass gender_attribute=None.",
                )
        if self.covariates is not None:
            if not isinstance(self.covariates, CovariateModel):
                self._fail(f"covariates={self.covariates!r} is not a CovariateModel",
                           "pass a fairaudit.synthetic.CovariateModel, or None.")
            self.covariates.check(self.name, labels, [spec.values for spec in self.groups])

    def _fail(self, problem: str, fix: str) -> None:
        raise errors.FairauditInputError(BAD_PRESET.format(name=self.name, problem=problem, fix=fix))

    @property
    def labels(self) -> tuple[str, ...]:
        """Short label of every group, in preset order."""
        return tuple(spec.label for spec in self.groups)

    @property
    def gender_values(self) -> tuple[str, ...]:
        """Values of the gender attribute in order of first appearance (sign +1, then -1)."""
        if self.gender_attribute is None:
            return ()
        return tuple(dict.fromkeys(spec.values[self.gender_attribute] for spec in self.groups))

    @property
    def contexts(self) -> tuple[tuple[str, ...], ...]:
        """Combinations of the non-gender attribute values; each gets its own centre."""
        return tuple(dict.fromkeys(self._context(spec) for spec in self.groups))

    def _context(self, spec: GroupSpec) -> tuple[str, ...]:
        return tuple(v for k, v in spec.values.items() if k != self.gender_attribute)


# --- presets ------------------------------------------------------------------
_GENDERS = ("H", "M")  # H = man (hombre), M = woman (mujer): the DiveFace codes
_ETHNICITIES = ("A", "B", "N")  # A = Asian, B = White (blanco), N = Black (negro)

#: DiveFace's coding of its attribute values (Spanish initials), in English
DIVEFACE_VALUE_LABELS = {"gender": {"H": "man", "M": "woman"},
                         "ethnicity": {"A": "Asian", "B": "White", "N": "Black"}}

#: planted DiveFace parameters by ethnicity: (intra_spread, identity_similarity, gender angle)
_DIVEFACE_ETHNICITY = {"A": (0.78, 0.32, 0.0), "B": (0.56, 0.15, 35.0), "N": (0.96, 0.26, 70.0)}
#: what being a woman adds to (intra_spread, identity_similarity)
_DIVEFACE_WOMAN = (0.10, 0.05)
_DIVEFACE_GENDER_STRENGTH = 0.25


def _diveface() -> Preset:
    groups = []
    for gender in _GENDERS:
        for ethnicity in _ETHNICITIES:
            spread, similarity, angle = _DIVEFACE_ETHNICITY[ethnicity]
            if gender == "M":
                spread += _DIVEFACE_WOMAN[0]
                similarity += _DIVEFACE_WOMAN[1]
            groups.append(GroupSpec(
                values={"gender": gender, "ethnicity": ethnicity},
                intra_spread=round(spread, 4),
                identity_similarity=round(similarity, 4),
                gender_strength=_DIVEFACE_GENDER_STRENGTH,
                gender_angle_deg=angle,
            ))
    return Preset(
        name="diveface",
        attributes=("gender", "ethnicity"),
        groups=tuple(groups),
        description=(
            "Six groups in the DiveFace layout: gender H (man) / M (woman) x ethnicity "
            "A (Asian) / B (White) / N (Black). FNMR is planted through intra_spread "
            "(ethnicity N > A > B, and women 0.10 above men within each ethnicity), "
            "giving the FNMR order MN > HN > MA > HA > MB > HB. FMR is planted through "
            "identity_similarity (ethnicity A > N > B, and women 0.05 above men), "
            "giving the FMR order MA > HA > MN > HN > MB > HB. Every group has the same "
            "gender_strength, but the gender direction of A, B and N is rotated by 0, 35 "
            "and 70 degrees, so a gender classifier trained on one ethnicity is most "
            "accurate on that ethnicity and least accurate on the one furthest away "
            "(A <-> N)."
        ),
        planted_fnmr_order=("MN", "HN", "MA", "HA", "MB", "HB"),
        planted_fmr_order=("MA", "HA", "MN", "HN", "MB", "HB"),
        value_labels=DIVEFACE_VALUE_LABELS,
    )


def _balanced() -> Preset:
    groups = tuple(
        GroupSpec(
            values={"gender": gender, "ethnicity": ethnicity},
            intra_spread=0.80,
            identity_similarity=0.28,
            gender_strength=_DIVEFACE_GENDER_STRENGTH,
            gender_angle_deg=0.0,
        )
        for gender in _GENDERS
        for ethnicity in _ETHNICITIES
    )
    return Preset(
        name="balanced",
        attributes=("gender", "ethnicity"),
        groups=groups,
        description=(
            "The DiveFace layout with no planted bias at all: every group has the same "
            "intra_spread, identity_similarity, gender_strength and gender direction. "
            "Differences an audit reports between these groups are sampling noise; use "
            "it to check that an audit does not invent a bias."
        ),
        value_labels=DIVEFACE_VALUE_LABELS,
    )


#: the covariate presets: every group's base intra_spread (direct: ethnicity N's is higher) ...
_COVARIATE_SPREAD = {"explained": {"A": 0.50, "B": 0.50, "N": 0.50},
                     "direct": {"A": 0.50, "B": 0.50, "N": 0.58}}
#: ... their median image quality (N lower: under-exposure of dark skin, as in NIST IR 8429) and the
#: quality slope (women's noise grows faster as quality drops)
_COVARIATE_QUALITY = {"quality_median": 0.72, "quality_median_by": {"N": 0.50},
                      "quality_slope": 1.0, "quality_slope_by": {"M": 1.5}}


def _covariate_preset(scenario: str) -> Preset:
    groups = tuple(
        GroupSpec(values={"gender": gender, "ethnicity": ethnicity},
                  intra_spread=_COVARIATE_SPREAD[scenario][ethnicity], identity_similarity=0.28,
                  gender_strength=_DIVEFACE_GENDER_STRENGTH, gender_angle_deg=0.0, sample_jitter=0.2)
        for gender in _GENDERS for ethnicity in _ETHNICITIES)
    common = (
        "Every sample carries covariates: quality (in (0, 1), higher is better), age (years at capture) "
        "and device (kiosk, phone, webcam). Lower quality raises the sample noise, and so FNMR, 1.5 times "
        "as steeply for women (M) as for men; ethnicity N has a lower median quality (0.50 against 0.72); a "
        "larger age gap between the two samples of a genuine pair lowers its score (more false "
        "non-matches); impostors older than 60 score higher (more false matches); the webcam adds noise "
        "(higher FNMR). ")
    if scenario == "explained":
        tail = ("Every group has the same intra_spread, so ethnicity N's higher FNMR is entirely explained "
                "by its lower quality: adjusted for quality, its gap vanishes (odds ratio about 1).")
    else:
        tail = ("Ethnicity N also has a larger intra_spread (0.58 against 0.50): part of its FNMR gap is "
                "explained by its lower quality and a direct group effect remains after adjusting for "
                "quality (odds ratio above 1).")
    return Preset(
        name=f"covariates_{scenario}", attributes=("gender", "ethnicity"), groups=groups,
        description=common + tail, value_labels=DIVEFACE_VALUE_LABELS,
        covariates=CovariateModel(scenario=scenario, gap_group="N", **_COVARIATE_QUALITY))


#: the built-in populations, by name
PRESETS: dict[str, Preset] = {p.name: p for p in (_diveface(), _balanced(), _covariate_preset("explained"),
                                                  _covariate_preset("direct"))}


# --- several systems of one population ---------------------------------------------------------
def _by_group(base: Mapping[str, tuple[float, float]], woman: tuple[float, float]) -> dict[str, dict[str, float]]:
    """Per-group ``intra_spread`` and ``identity_similarity`` of the DiveFace layout: an ethnicity base
    plus a woman offset, as in the ``diveface`` preset."""
    out: dict[str, dict[str, float]] = {"intra_spread": {}, "identity_similarity": {}}
    for gender in _GENDERS:
        for ethnicity in _ETHNICITIES:
            for k, name in enumerate(out):
                value = base[ethnicity][k] + (woman[k] if gender == "M" else 0.0)
                out[name][gender + ethnicity] = round(value, 4)
    return out


#: the group labels the default systems of ``synthetic.systems()`` name (the DiveFace layout)
SYSTEM_GROUPS = tuple(g + e for g in _GENDERS for e in _ETHNICITIES)

#: the two systems ``synthetic.systems()`` draws by default: per-group parameter overrides
DEFAULT_SYSTEMS: dict[str, dict[str, dict[str, float]]] = {
    # tighter genuine clusters everywhere, but ethnicity and gender gaps wider than in "fair"
    "accurate": _by_group({"A": (0.72, 0.30), "B": (0.66, 0.20), "N": (0.88, 0.26)}, (0.06, 0.04)),
    # looser genuine clusters, nearly the same in every group
    "fair": _by_group({"A": (0.99, 0.25), "B": (0.97, 0.25), "N": (1.01, 0.25)}, (0.02, 0.01)),
}

#: what the default systems plant, system against system (rank 1 = the highest value)
DEFAULT_SYSTEM_CLAIMS: dict[str, dict[str, Any]] = {
    "accurate": {
        "description": (
            "more accurate but less fair: intra_spread 0.66-0.94 (ethnicity N > A > B, women +0.06) and "
            "identity_similarity 0.20-0.34 (A > N > B, women +0.04); lower pooled FNMR at its own "
            "FMR = 1e-3 threshold than 'fair', and larger max/min ratios of FNMR and FMR across groups"),
        "pooled_fnmr_rank": 2, "fnmr_max_min_rank": 1, "fmr_max_min_rank": 1,
    },
    "fair": {
        "description": (
            "fairer but less accurate: intra_spread 0.97-1.03 and identity_similarity 0.25-0.26 in every "
            "group; higher pooled FNMR at its own FMR = 1e-3 threshold than 'accurate', and max/min "
            "ratios of FNMR and FMR across groups near 1 (sampling noise only)"),
        "pooled_fnmr_rank": 1, "fnmr_max_min_rank": 2, "fmr_max_min_rank": 2,
    },
}
