"""Check fairaudit's error rates against bob.measure and pyeer on generated score sets.

Two steps, in two virtual environments (bob.measure and pyeer need numpy < 2):

    python tools/peer_check.py generate DIR           # fairaudit's venv: score sets + fairaudit's figures
    /path/to/peer/bin/python tools/peer_check.py compare DIR   # numpy, bob.measure and pyeer only

``generate`` writes ``DIR/<set>.npz`` (the genuine and impostor scores of every group and of the pooled
population, as ``gen/<label>`` and ``imp/<label>``) and ``DIR/fairaudit.json`` (fairaudit's figures for
them). Every score is a multiple of 2**-14, so fairaudit's score grid holds them exactly and every
figure is comparable without tolerance. ``compare`` recomputes the figures with bob.measure and pyeer,
prints a table and exits with status 1 on any mismatch. The definitional differences it allows for
are the ones documented in docs/concepts/verification.md ("Definitions and the anchors"):

- EER: bob.measure's rule exactly, compared strictly (bob.measure's running floating-point sums could
  break an exact tie of |FMR - FNMR| the other way; on these sets none does).
- EER threshold: fairaudit reports the lowest grid edge of bob.measure's operating point (bob.measure
  the midpoint between two scores): FMR and FNMR must be the same at both thresholds.
- FNMR at FMR = x: bob.measure's ``far_threshold`` is the lowest impostor score v with FMR(v) <= x;
  fairaudit's threshold is the lowest grid edge with FMR <= x, just above the impostor score u below
  v: the same FMR, and an FNMR lower by the genuine scores strictly between u and v.
- pyeer's FMR100/FMR1000/ZeroFMR: the FNMR where FMR is closest to x; equal to fairaudit's whenever
  that FMR is at most x.
- AUC: fairaudit's is the exact Mann-Whitney statistic; pyeer's trapezoid leaves out the last segment
  (half the product of the impostor and genuine shares at the top score); bob.measure's
  ``roc_auc_score`` integrates a sampled ROC and must lie within half the area of the boxes between
  its samples.
- pyeer's EER (FVC2000) picks, of the two operating points around the crossing, the one with the
  smaller FMR + FNMR: fairaudit's operating point must be one of those two.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from peer_table import Table  # tools/ is on sys.path when the tool runs as a script

WIDTH = 2.0**-14
#: FMR targets at which FNMR is compared (fairaudit reports 1e-2 and 1e-3 where supported)
TARGETS = (1e-2, 1e-3)
#: target of the pooled "no false match" operating point (pyeer's ZeroFMR)
ZERO_TARGET = 1e-9
SEED = 20261201


# ----------------------------------------------------------------------------- generate
def _lattice(rng, n, lo, hi, levels):
    """n scores on ``levels`` distinct multiples of 2**-14 in [lo, hi] (few levels: many ties)."""
    grid = np.unique(np.round(np.linspace(lo, hi, levels) / WIDTH)).astype(np.int64)
    return rng.choice(grid, size=n) * WIDTH


def _specs():
    """(name, {label: group}, n_cross): a group is (n_identities, n_genuine, n_impostor, genuine law,
    impostor law), a law being (lo, hi, levels), or (n_identities, genuine scores, impostor scores);
    n_cross impostor pairs join groups (they count in the pooled figures only)."""
    return [
        ("ties", {"A": (8, 16, 32, (0.2, 0.8, 7), (0.0, 0.5, 6)),
                  "B": (8, 16, 48, (0.1, 0.7, 5), (0.0, 0.6, 5))}, 16),
        ("plateaus", {"A": (6, 12, 40, (0.6, 0.9, 4), (-0.2, 0.1, 3)),
                      "B": (6, 10, 30, (0.3, 0.9, 3), (0.2, 0.6, 3)),
                      "C": (5, 9, 27, (0.1, 0.4, 20), (0.0, 0.5, 20))}, 24),
        ("tiny", {"A": (2, 1, 2, (0.5, 0.5, 1), (0.1, 0.5, 2)),
                  "B": (3, 2, 3, (0.3, 0.6, 2), (0.3, 0.6, 2)),
                  "C": (2, 3, 1, (0.0, 1.0, 3), (0.4, 0.4, 1))}, 4),
        ("large", {"A": (300, 2000, 30000, (0.2, 0.95, 3000), (-0.3, 0.55, 3000)),
                   "B": (200, 1500, 20000, (0.1, 0.9, 200), (-0.2, 0.6, 200))}, 10000),
        # exact EER ties: the highest tie (A), a tie with the point where all impostors are rejected (B)
        ("eer-ties", {"A": (4, [0.4, 0.6], [0.1, 0.2, 0.3, 0.5]),
                      "B": (3, [0.2, 0.7], [0.5, 0.5]),
                      "C": (4, [0.3, 0.3, 0.6, 0.8], [0.3, 0.3, 0.55, 0.6, 0.6, 0.7, 0.1, 0.2])}, 0),
        ("overlap", {"A": (10, 64, 64, (0.0, 0.5, 9), (0.0, 0.5, 9)),
                     "B": (10, 37, 91, (0.1, 0.6, 11), (0.2, 0.5, 4))}, 10),
    ]


def _score_set(rng, groups, n_cross):
    ids, gen_rows, imp_rows = {}, [], []
    for label, (n_id, *law) in groups.items():
        ids[label] = [f"{label}{i}" for i in range(n_id)]
        if len(law) == 2:  # scores given
            gen_s, imp_s = (np.round(np.asarray(v) / WIDTH) * WIDTH for v in law)
        else:
            gen_s, imp_s = _lattice(rng, law[0], *law[2]), _lattice(rng, law[1], *law[3])
        gen_id = rng.integers(0, n_id, size=len(gen_s))
        gen_rows += [(s, ids[label][i], ids[label][i]) for s, i in zip(gen_s, gen_id)]
        a = rng.integers(0, n_id, size=len(imp_s))
        b = (a + rng.integers(1, n_id, size=len(imp_s))) % n_id
        imp_rows += [(s, ids[label][i], ids[label][j]) for s, i, j in zip(imp_s, a, b)]
    labels = sorted(groups)
    for k in range(n_cross):
        la, lb = labels[k % len(labels)], labels[(k + 1) % len(labels)]
        imp_rows.append((float(rng.integers(-4000, 9000)) * WIDTH, ids[la][k % len(ids[la])], ids[lb][0]))
    rows = gen_rows + imp_rows
    group_of = {i: label for label, names in ids.items() for i in names}
    score = np.array([r[0] for r in rows])
    ida = [r[1] for r in rows]
    idb = [r[2] for r in rows]
    return score, ida, idb, group_of


def _figures(row) -> dict:
    out = {key: _num(row[key]) for key in ("n_genuine", "n_impostor", "eer", "eer_threshold", "auc")}
    out["fnmr_at_fmr"] = {f"{x:g}": _num(row[f"fnmr_at_fmr_{x:.0e}"]) for x in TARGETS}
    return out


def _num(value):
    value = float(value)
    return None if not np.isfinite(value) else value


def generate(out: Path) -> None:
    import fairaudit

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    report: dict = {"bin_width": WIDTH, "targets": list(TARGETS), "zero_target": ZERO_TARGET, "sets": {}}
    for name, groups, n_cross in _specs():
        score, ida, idb, group_of = _score_set(rng, groups, n_cross)
        ss = fairaudit.ScoreSet.from_arrays(
            score, identity_a=ida, identity_b=idb,
            attributes_a={"g": [group_of[i] for i in ida]}, attributes_b={"g": [group_of[i] for i in idb]})
        genuine = np.asarray(ss.genuine)
        ga = np.array([group_of[i] for i in ida])
        gb = np.array([group_of[i] for i in idb])
        arrays = {"gen/pooled": score[genuine], "imp/pooled": score[~genuine]}
        for label in groups:
            both = (ga == label) & (gb == label)
            arrays[f"gen/{label}"] = score[both & genuine]
            arrays[f"imp/{label}"] = score[both & ~genuine]
        np.savez(out / f"{name}.npz", **arrays)

        res = fairaudit.verification_audit(ss, by="g", threshold="eer", n_boot=0)
        entry: dict = {"pooled": _figures(res.overall), "groups": {}}
        entry["pooled"]["eer_policy_threshold"] = float(res.threshold)
        for _, row in res.by_group.iterrows():
            entry["groups"][str(row["label"])] = _figures(row)
        # FMR and FNMR at fixed thresholds: on scores (quantiles) and between them
        at = np.unique(np.r_[np.quantile(score, [0.25, 0.75]) // WIDTH * WIDTH, 0.5 + WIDTH])
        for t in at:
            fixed = fairaudit.verification_audit(ss, by="g", threshold=float(t), n_boot=0)
            rows = [("pooled", fixed.overall)] + [(str(r["label"]), r) for _, r in fixed.by_group.iterrows()]
            for label, fig in rows:
                target = entry["pooled"] if label == "pooled" else entry["groups"][label]
                target.setdefault("at_threshold", []).append([float(t), _num(fig["fmr"]), _num(fig["fnmr"])])
        # the pooled threshold of the FMR policy, and the "no false match" point
        policy = {}
        for x in (*TARGETS, ZERO_TARGET):
            r = fairaudit.verification_audit(ss, by="g", threshold=f"fmr={x!r}", n_boot=0)
            policy[f"{x:g}"] = [float(r.threshold), _num(r.overall["fmr"]), _num(r.overall["fnmr"])]
        entry["pooled"]["fmr_policy"] = policy
        report["sets"][name] = entry
    (out / "fairaudit.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {len(report['sets'])} score sets and fairaudit.json to {out}")


# ----------------------------------------------------------------------------- compare
def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.10g}"
    return str(v)


def _exact_rates(imp, gen, t):
    return Fraction(int((imp >= t).sum()), len(imp)), Fraction(int((gen < t).sum()), len(gen))


def _compare_group(table, where, imp, gen, fig, width):
    import bob.measure
    from pyeer.eer_info import get_eer_stats
    from pyeer.eer_stats import get_fmr_op

    if len(imp) < 1 or len(gen) < 1:
        table.add(where, "skipped", None, None, fig["eer"] is None, "no pairs: fairaudit reports NaN")
        return
    # EER and its threshold
    t_bob = float(bob.measure.eer_threshold(imp, gen))
    eer_bob = float(bob.measure.eer(imp, gen))
    t_fa = fig["eer_threshold"]
    a_fa, r_fa = _exact_rates(imp, gen, t_fa)
    a_bob, r_bob = _exact_rates(imp, gen, t_bob)
    # strict: bob.measure's running float sums could in principle break an exact tie (documented);
    # none does on these sets, so any difference is a mismatch
    table.add(where, "EER", fig["eer"], eer_bob, fig["eer"] == eer_bob)
    same_point = (a_fa, r_fa) == (a_bob, r_bob)
    lower = _exact_rates(imp, gen, t_fa - width)
    lowest = lower != (a_fa, r_fa) or (a_fa, r_fa) == (1, 0)  # (1, 0): fairaudit's grid bottom
    table.add(where, "EER threshold", t_fa, t_bob, same_point and lowest, "same FMR, FNMR; lowest edge")
    # FMR and FNMR at thresholds
    for t, fmr, fnmr in fig.get("at_threshold", []):
        far, frr = bob.measure.farfrr(imp, gen, t)
        table.add(where, f"FMR, FNMR at {t:.6g}", (fmr, fnmr), (float(far), float(frr)),
                  fmr == float(far) and fnmr == float(frr))
    # FNMR at FMR targets: bob.measure's far_threshold, and pyeer's operating points
    stats = get_eer_stats(gen, imp)
    pyeer_value = {1e-2: stats.fmr100, 1e-3: stats.fmr1000}
    for x in (1e-2, 1e-3):
        ours = fig["fnmr_at_fmr"].get(f"{x:g}")
        if ours is None:
            continue
        v = float(bob.measure.far_threshold(imp, gen, x))
        bob_fnmr = float(bob.measure.farfrr(imp, gen, v)[1])
        below = imp[imp < v]
        u = below.max() if below.size else -np.inf
        expected = float(Fraction(int((gen < v).sum() - ((gen > u) & (gen < v)).sum()), len(gen)))
        table.add(where, f"FNMR at FMR {x:g}", ours, bob_fnmr, ours == expected,
                  "bob minus genuine in (u, v)")
        k, py = get_fmr_op(stats.fmr, stats.fnmr, x)
        ok = ours == float(py) if stats.fmr[k] <= x else True
        table.add(where, f"pyeer FMR{round(1 / x)}", ours, float(py), ok,
                  "equal when pyeer's FMR <= x" if stats.fmr[k] <= x else f"pyeer's FMR {stats.fmr[k]:.4g} > x")
    # AUC: exact Mann-Whitney, pyeer, bob.measure
    imp_sorted = np.sort(imp)
    below = np.searchsorted(imp_sorted, gen, side="left").sum()  # pairs with genuine > impostor
    equal = (np.searchsorted(imp_sorted, gen, side="right") - np.searchsorted(imp_sorted, gen, side="left")).sum()
    mw = float((Fraction(int(below)) + Fraction(int(equal), 2)) / (len(gen) * len(imp)))
    table.add(where, "AUC (Mann-Whitney)", fig["auc"], mw, abs(fig["auc"] - mw) <= 1e-12, "to 1e-12 (float sums)")
    top = max(imp.max(), gen.max())
    py_expected = mw - float((imp == top).mean() * (gen == top).mean()) / 2
    table.add(where, "pyeer AUC", fig["auc"], float(stats.auc), abs(stats.auc - py_expected) <= 1e-12,
              "AUC minus top segment")
    if min(len(imp), len(gen)) >= 2:  # bob.measure's ROC needs two scores on each side
        far, frr = bob.measure.roc(imp, gen, 2000, min_far=-8)
        order = np.argsort(far)
        x_s, y_s = far[order], 1 - frr[order]
        bound = float(np.sum(np.abs(np.diff(x_s)) * np.abs(np.diff(y_s))) / 2)
        auc_bob = float(bob.measure.roc_auc_score(imp, gen))
        table.add(where, "bob roc_auc_score", fig["auc"], auc_bob, abs(auc_bob - fig["auc"]) <= bound + 1e-12,
                  f"within sampled-ROC bound {bound:.2g}")
    # pyeer's EER: one of the two operating points around the crossing
    diff = stats.fmr - stats.fnmr
    t2 = np.flatnonzero(diff <= 0)
    if t2.size:
        t2 = int(t2[0])
        t1 = t2 - 1 if diff[t2] != 0 and t2 != 0 else t2
        candidates = {(stats.fmr[i] + stats.fnmr[i]) / 2 for i in (t1, t2)}
        table.add(where, "pyeer EER", fig["eer"], float(stats.eer),
                  any(abs(fig["eer"] - c) <= 1e-15 for c in candidates), "one of pyeer's two crossing points")


def compare(out: Path) -> int:
    import bob.measure
    from pyeer.eer_info import get_eer_stats
    from pyeer.eer_stats import get_fmr_op

    report = json.loads((out / "fairaudit.json").read_text())
    width = report["bin_width"]
    table = Table("peer", _fmt)
    for name, entry in report["sets"].items():
        data = np.load(out / f"{name}.npz")
        for label, fig in [("pooled", entry["pooled"]), *entry["groups"].items()]:
            imp = np.asarray(data[f"imp/{label}"], dtype=np.float64)
            gen = np.asarray(data[f"gen/{label}"], dtype=np.float64)
            _compare_group(table, f"{name}/{label}", imp, gen, fig, width)
        imp, gen = data["imp/pooled"], data["gen/pooled"]
        t_policy = entry["pooled"]["eer_policy_threshold"]
        table.add(f"{name}/pooled", "EER policy threshold", t_policy, entry["pooled"]["eer_threshold"],
                  t_policy == entry["pooled"]["eer_threshold"])
        stats = get_eer_stats(gen, imp)
        for key, (t, fmr, fnmr) in entry["pooled"]["fmr_policy"].items():
            x = float(key)
            v = float(bob.measure.far_threshold(imp, gen, x))
            u = imp[imp < v].max()
            exp_fmr, exp_fnmr = _exact_rates(imp, gen, u + width)
            table.add(f"{name}/pooled", f"fmr={key}: threshold", t, v, t == u + width and float(exp_fmr) == fmr
                      and float(exp_fnmr) == fnmr, "just above bob's u")
            if x == report["zero_target"]:
                k, py = get_fmr_op(stats.fmr, stats.fnmr, 0.0)
                ok = fnmr == float(py) if stats.fmr[k] == 0 else True
                table.add(f"{name}/pooled", "pyeer ZeroFMR", fnmr, float(py), ok,
                          "equal when pyeer finds FMR 0" if stats.fmr[k] == 0 else "pyeer finds no FMR 0")
    return table.finish()


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("generate", "compare"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    out = Path(argv[1])
    if argv[0] == "generate":
        generate(out)
        return 0
    return compare(out)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
