"""``PlanResult``: what :func:`fairaudit.plan_sample_size` found, as tables that round-trip through JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from fairaudit.common import errors
from fairaudit.common.results import ResultOutput
from fairaudit.common.serialize import frame_from_dict, frame_to_dict, to_jsonable
from fairaudit.common.text import _fmt, table

WRONG_KIND = ("data has kind={value!r}, expected 'plan'. Fix: pass the JSON written by PlanResult.to_json() "
              "or 'fairaudit plan --json'.")


@dataclass(frozen=True, eq=False)
class PlanResult(ResultOutput):
    """A sample-size plan: the simulated power of every design tried and the recommended one.

    Attributes
    ----------
    power : DataFrame
        One row per design tried, sorted by ``samples_per_identity`` then ``n_identities``. Columns:
        ``n_identities`` (per group), ``samples_per_identity``, ``n_sim``, ``rejections`` (simulated
        studies whose test rejected at ``alpha``), ``power`` (their fraction), ``power_ci_low``,
        ``power_ci_high`` (95 % Clopper-Pearson interval of the Monte-Carlo estimate) and ``reached``
        (``power >= target``).
    recommendation : DataFrame
        One row per ``samples_per_identity``: the smallest ``n_identities`` tried whose power reached the
        target (or the best found, with ``reached`` False), its ``power`` and interval, and
        ``total_samples`` (both groups).
    n_identities, samples_per_identity : int
        The recommended design: the one reaching the power with the fewest samples in total (or the best
        found when none did).
    reached : bool
        Whether any design reached the target power within ``max_identities``.
    calibration : dict
        The simulated population: ``threshold``, ``reference_rate`` and ``compared_rate`` at it (the
        planted ratio is their quotient), and the planted parameters of both groups.
    params : dict
        The arguments that produced the plan.
    provenance : dict
        Package versions, time.
    notes : list of str
        Plain-language remarks (e.g. the power was not reached).
    """

    power: pd.DataFrame
    recommendation: pd.DataFrame
    n_identities: int
    samples_per_identity: int
    reached: bool
    calibration: dict
    params: dict
    provenance: dict
    notes: list = field(default_factory=list)

    kind = "plan"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dictionary of everything in the plan."""
        return to_jsonable({
            "kind": self.kind, "power": frame_to_dict(self.power),
            "recommendation": frame_to_dict(self.recommendation), "n_identities": self.n_identities,
            "samples_per_identity": self.samples_per_identity, "reached": self.reached,
            "calibration": self.calibration, "params": self.params, "provenance": self.provenance,
            "notes": list(self.notes),
        })

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "PlanResult":
        """Rebuild a plan from :meth:`to_dict` output."""
        if data.get("kind") != cls.kind:
            raise errors.FairauditInputError(WRONG_KIND.format(value=data.get("kind")))
        return cls(power=frame_from_dict(data["power"]), recommendation=frame_from_dict(data["recommendation"]),
                   n_identities=int(data["n_identities"]), samples_per_identity=int(data["samples_per_identity"]),
                   reached=bool(data["reached"]), calibration=data["calibration"], params=data["params"],
                   provenance=data["provenance"], notes=list(data.get("notes", [])))

    def summary(self) -> str:
        """The recommendation in one sentence, then the power of every design tried."""
        p, c = self.params, self.calibration
        head = (f"Plan: detect an {p['metric'].upper()} ratio of {p['ratio']:g} between two groups at the threshold "
                f"where the reference FMR is {p['fmr']:g}, with power {p['power']:g} at alpha {p['alpha']:g}.\n"
                f"Simulated rates at threshold {c['threshold']:.4f}: reference {c['reference_rate']:.4g}, "
                f"compared {c['compared_rate']:.4g} (ratio {c['compared_rate'] / c['reference_rate']:.3g}).")
        best = self.recommendation.set_index("samples_per_identity").loc[self.samples_per_identity]
        verdict = ("Recommended" if self.reached else "Power NOT reached; best found")
        line = (f"{verdict}: {self.n_identities} identities per group x {self.samples_per_identity} samples "
                f"(power {best['power']:.3f}, 95 % MC interval [{best['power_ci_low']:.3f}, "
                f"{best['power_ci_high']:.3f}]).")
        rows = [[str(r.n_identities), str(r.samples_per_identity), _fmt(r.power, 3),
                 f"[{_fmt(r.power_ci_low, 3)}, {_fmt(r.power_ci_high, 3)}]", "yes" if r.reached else "no"]
                for r in self.power.itertuples()]
        grid = table(rows, ["identities/group", "samples/identity", "power", "95% MC interval", "reached"])
        return "\n".join([head, line, "", grid, *self.notes])

    def __repr__(self) -> str:
        return (f"PlanResult(metric={self.params['metric']!r}, ratio={self.params['ratio']:g}, "
                f"n_identities={self.n_identities}, samples_per_identity={self.samples_per_identity}, "
                f"reached={self.reached})")
