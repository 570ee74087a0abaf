"""Check fairaudit's 1:N identification figures against bob.measure on generated searches.

Two steps, in two virtual environments (bob.measure needs numpy < 2):

    python tools/peer_identification.py generate DIR            # fairaudit's venv
    /path/to/peer/bin/python tools/peer_identification.py compare DIR   # numpy and bob.measure only

``generate`` writes, per set of searches, a bob score file ``DIR/<set>.txt`` (4 columns ``claimed_id
real_id probe_label score``, or 5 with ``model_label``: every probe scored against every gallery model),
``DIR/<set>.people.csv`` (identity -> group), reads them back with
``fairaudit.identification.read_candidates`` and audits them; fairaudit's figures go to
``DIR/fairaudit.json``: per group and pooled, the rank-1..k identification rates (CMC) and the rank-1
rate, and at each threshold T the FPIR, the DIR at every rank and FNIR(T, R) (R = 1 or 3, in turn over
the thresholds); pooled, the thresholds of the FPIR policy (``threshold='fpir=x'``). Every score is a
multiple of 2**-14 on few levels, with deliberate ties (mates tied with non-mates, thresholds equal to
scores), so every figure is compared exactly, without tolerance.

``compare`` loads the score files as bob.bio.base's ``cmc_four_column`` / ``cmc_five_column`` do (one
``(negatives, positives)`` pair per probe_label, positive when ``claimed_id == real_id``; bob.bio.base
itself is not installed, the grouping is re-done here in a few lines), recomputes the figures with
``bob.measure.cmc``, ``recognition_rate`` (without and with a threshold, on the mated probes and on the
open set), ``detection_identification_rate`` and ``false_alarm_rate`` (also at the FPIR policy's
threshold t: FPIR(t) <= x < FPIR just below t), prints a table and exits with status 1 on any mismatch.

Ties between the mate and non-mates need no bridge: fairaudit ranks non-mates tied with the mate
ahead of it (rank = 1 + the non-mate identities scoring at least as high as the mate's best score), as
bob.measure 6.1's code counts them (``numpy.sum(neg >= max_pos)``, although ``recognition_rate``'s
docstring says a mate "greater than or equal to all negative scores" is at rank 1). bob.measure gets
the raw scores, ties included, and every set but ``distinct`` is checked to hold mates tied with a
non-mate.

The definitional differences it allows for, and how each is bridged (nothing else is):

- Several rows of one identity in one probe's list (several models, 5-column files). fairaudit counts
  one candidate per identity, its best score; bob.measure counts every row as a negative. The
  comparison gives bob.measure each probe's best score per non-mate identity (positives are already
  reduced to their maximum by bob.measure).
- ``recognition_rate(threshold=t)`` keeps scores ``> t``; fairaudit returns a candidate at ``>= T``:
  the comparison passes ``t = T - 2**-15``, half a grid step below T (T is on the grid, so ``s > t``
  is ``s >= T`` for every score). With a threshold, bob.measure's rate is over the mated probes
  plus the non-mated probes with a score above it, so it is compared with ``DIR(T, r) * n_mated /
  (n_mated + n_false_positives)``; without a threshold on the open set it is ``CMC(r) * n_mated /
  (n_mated + n_nonmated)`` (bob.measure counts every non-mated probe as an error).
- No mated (or no non-mated) search in a group: fairaudit reports NaN where bob.measure would warn and
  return 0; the row checks fairaudit's NaN and calls no bob.measure function.
- ``by_group['fnir']`` is compared through counts: fnir = 1 - DIR with both quotients of integers.
"""

from __future__ import annotations

import json
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from peer_table import Table  # tools/ is on sys.path when the tool runs as a script

WIDTH = 2.0**-14
HALF_STEP = 2.0**-15  # t = T - HALF_STEP: bob's ``> t`` is fairaudit's ``>= T`` on the grid
K = 20
RANKS = (1, 2, 3, 5, 10, 20)
FNIR_RANKS = (1, 3)
TARGETS = (0.05, 0.2)
SEED = 20261214


# ----------------------------------------------------------------------------- generate
def _specs():
    """name -> (ncols, {group: (gallery identities, mated probes, non-mated probes)}, score levels,
    models per identity (low, high), share of mated probes given a non-mate tied with the mate)."""
    return {
        "ties": (4, {"A": (4, 12, 6), "B": (4, 14, 6), "C": (4, 10, 6)}, 6, (1, 1), 0.4),
        "models": (5, {"A": (3, 10, 4), "B": (3, 9, 4), "C": (3, 8, 4)}, 9, (1, 3), 0.3),
        "distinct": (4, {"A": (8, 15, 8), "B": (7, 15, 7)}, 0, (1, 1), 0.0),
        "large": (4, {"A": (70, 180, 60), "B": (50, 120, 40)}, 200, (1, 1), 0.2),
        "closed": (4, {"A": (4, 8, 0), "B": (4, 8, 0)}, 5, (1, 1), 0.3),
        "tiny": (4, {"A": (1, 1, 0), "B": (1, 1, 1)}, 3, (1, 1), 1.0),
    }


def _levels(rng, n, levels, lo, hi):
    """n scores: multiples of 2**-14 in [lo, hi], drawn from the values of a grid of ``levels`` values
    over [-0.5, 0.9] (shared by mates and non-mates, so that they tie), or all distinct (levels=0)."""
    if levels == 0:
        return rng.choice(np.arange(round(lo / WIDTH), round(hi / WIDTH)), size=n, replace=False) * WIDTH
    grid = np.unique(np.round(np.linspace(-0.5, 0.9, levels) / WIDTH)).astype(np.int64) * WIDTH
    return rng.choice(grid[(grid >= lo) & (grid <= hi)], size=n)


def _make_set(rng, ncols, groups, levels, models, tie_share):
    """The bob file's lines, the people (identity -> group) and every probe's best mate and non-mate
    scores (where the thresholds are picked)."""
    people, gallery, probes = {}, [], []
    for label, (n_gal, n_mated, n_non) in groups.items():
        ids = [f"{label}{i}" for i in range(n_gal)]
        outsiders = [f"{label}x{i}" for i in range(n_non)]
        people.update({i: label for i in ids + outsiders})
        gallery += ids
        probes += [ids[i % n_gal] for i in range(n_mated)] + outsiders
    model_of = {g: [f"{g}_m{j}" for j in range(int(rng.integers(models[0], models[1] + 1)))] for g in gallery}
    pairs = [(g, m) for g in gallery for m in model_of[g]]
    owner = np.array([g for g, _ in pairs])
    rows, tops = [], []
    for p, real in enumerate(probes):
        label = f"q{p:04d}"
        scores = _levels(rng, len(pairs), levels, -0.5, 0.7)  # non-mates
        mates = np.flatnonzero(owner == real)
        others = np.flatnonzero(owner != real)
        if mates.size:  # mates score higher on the whole
            scores[mates] = _levels(rng, mates.size, levels, 0.0, 0.9)
            if rng.random() < tie_share:  # a non-mate tied with the mate's best score
                scores[others[int(rng.integers(others.size))]] = scores[mates].max()
            tops.append(scores[mates].max())
        tops.append(scores[others].max())
        rows += [(g, m, real, label, s) for (g, m), s in zip(pairs, scores)]
    lines = []
    for i in rng.permutation(len(rows)):
        g, m, real, label, s = rows[i]
        fields = [g, m, real, label] if ncols == 5 else [g, real, label]
        lines.append(" ".join(fields + [repr(float(s))]))
    return people, lines, np.array(tops)


def _num(value):
    value = float(value)
    return None if not np.isfinite(value) else value


def generate(out: Path) -> None:
    import pandas as pd

    import fairaudit
    from fairaudit.identification import read_candidates

    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    report: dict = {"width": WIDTH, "half_step": HALF_STEP, "k": K, "ranks": list(RANKS), "sets": {}}
    for name, (ncols, groups, levels, models, tie_share) in _specs().items():
        people, lines, tops = _make_set(rng, ncols, groups, levels, models, tie_share)
        (out / f"{name}.txt").write_text("\n".join(lines) + "\n")
        people_csv = out / f"{name}.people.csv"
        pd.DataFrame({"identity": list(people), "g": list(people.values())}).to_csv(people_csv, index=False)
        lists = read_candidates(out / f"{name}.txt", format=f"bob{ncols}", attributes=str(people_csv))
        # thresholds on scores (ties at the threshold: a candidate is returned at >= T), and one grid
        # step above one
        ts = sorted({float(v) for v in np.quantile(tops, [0.25, 0.5, 0.75], method="lower")})
        ts.append(float(np.quantile(tops, 0.6, method="lower")) + WIDTH)
        entry: dict = {"file": f"{name}.txt", "ncols": ncols, "people": people, "thresholds": ts, "figures": {}}

        def figures(label):
            return entry["figures"].setdefault("pooled" if label == "all" else label, {"at": {}})

        for i, t in enumerate(ts):  # one audit per threshold, at rank 1 and 3 in turn
            r = FNIR_RANKS[i % len(FNIR_RANKS)]
            res = fairaudit.identification_audit(lists, by="g", threshold=t, rank=r, k=K, n_boot=0)
            for label in ["all", *groups]:
                row = res.overall if label == "all" else res.by_group.set_index("label").loc[label]
                fig = figures(label)
                if i == 0:  # the CMC and the rank-1 rate do not depend on the threshold
                    rows = res.cmc[res.cmc["group"] == label]
                    fig["cmc"] = [_num(v) for v in rows["identification_rate"]]
                    fig["n_mated"], fig["n_nonmated"] = int(row["n_mated"]), int(row["n_nonmated"])
                    fig["rank1"] = _num(row["rank1"])
                fig["at"][repr(t)] = {"fnir": {str(r): _num(row["fnir"])}, "fpir": _num(row["fpir"]),
                                      "dir": [_num(v) for v in res.cmc.loc[res.cmc["group"] == label, "dir"]]}
        policy = {}
        if res.overall["n_nonmated"]:
            for x in TARGETS:
                res = fairaudit.identification_audit(lists, by="g", threshold=f"fpir={x!r}", k=K, n_boot=0)
                policy[repr(x)] = [float(res.threshold), _num(res.overall["fpir"])]
        entry["fpir_policy"] = policy
        report["sets"][name] = entry
    (out / "fairaudit.json").write_text(json.dumps(report, indent=1))
    print(f"wrote {len(report['sets'])} sets of searches and fairaudit.json to {out}")


# ----------------------------------------------------------------------------- compare
def _fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    if isinstance(v, (list, tuple)):
        shown = [_fmt(x) for x in v]
        if len(shown) > 6:  # the full lists are in fairaudit.json
            shown = shown[:3] + ["...", shown[-1]]
        return "[" + ", ".join(shown) + "]"
    return str(v)


def _load(path: Path, ncols: int):
    """bob.bio.base's cmc_four_column / cmc_five_column: per probe_label, the negative and positive
    scores (positive when claimed_id == real_id); also the best negative score per claimed identity."""
    neg, pos, best, real_of = {}, {}, {}, {}
    with open(path) as fh:
        for line in fh:
            fields = line.split()
            if not fields:
                continue
            claimed, real, probe, score = (fields[0], fields[1], fields[2], float(fields[3])) if ncols == 4 else (
                fields[0], fields[2], fields[3], float(fields[4]))
            real_of[probe] = real
            if claimed == real:
                pos.setdefault(probe, []).append(score)
            else:
                neg.setdefault(probe, []).append(score)
                per = best.setdefault(probe, {})
                per[claimed] = max(per.get(claimed, -np.inf), score)
    probes = sorted(real_of)
    return probes, real_of, neg, pos, best


def _pairs(probes, neg, pos, best, *, collapse: bool):
    """bob.measure's ``(negatives, positives)`` per probe, on the raw scores (no tie is broken);
    ``collapse``: the negatives are the best score per non-mate identity."""
    out = []
    for p in probes:
        n = np.array(sorted(best.get(p, {}).values()) if collapse else neg.get(p, []), dtype=np.float64)
        q = np.array(pos[p], dtype=np.float64) if p in pos else None
        out.append((n, q))
    return out


def _mate_ties(pairs) -> int:
    """Mated probes whose mate's best score equals a non-mate's (best) score."""
    return sum(q is not None and bool(np.isin(q.max(), n)) for n, q in pairs)


def _count(rate, n):
    return int(round(rate * n)) if rate is not None else 0


def _compare_group(table, where, pairs, fig, report):
    import bob.measure

    mated = [pq for pq in pairs if pq[1] is not None]
    n_m, n_nm = len(mated), len(pairs) - len(mated)
    table.add(where, "mated / non-mated searches", (fig["n_mated"], fig["n_nonmated"]), (n_m, n_nm),
              (fig["n_mated"], fig["n_nonmated"]) == (n_m, n_nm))
    cmc = fig["cmc"]
    ranks = [r for r in report["ranks"] if r <= report["k"]]
    if n_m:
        theirs = bob.measure.cmc(mated)
        upto = min(len(theirs), len(cmc))
        ours = cmc[:upto]
        rest = all(v == 1.0 for v in cmc[upto:])  # beyond bob's last rank (the gallery size) the CMC is 1
        table.add(where, f"CMC ranks 1..{upto}", ours, [float(v) for v in theirs[:upto]],
                  ours == [float(v) for v in theirs[:upto]] and rest, "raw ties, best per identity")
        rr = [float(bob.measure.recognition_rate(mated, rank=r)) for r in ranks]
        table.add(where, f"recognition_rate ranks {ranks}", [cmc[r - 1] for r in ranks], rr,
                  rr == [cmc[r - 1] for r in ranks], "mated searches")
        table.add(where, "rank1 (by_group)", fig["rank1"], rr[0], fig["rank1"] == rr[0])
    else:
        table.add(where, "CMC", cmc[0], None, all(v is None for v in cmc), "no mated search: NaN")
    if n_m and n_nm:
        rr = [float(bob.measure.recognition_rate(pairs, rank=r)) for r in ranks]
        expected = [float(Fraction(_count(cmc[r - 1], n_m), n_m + n_nm)) for r in ranks]
        table.add(where, "recognition_rate open set", expected, rr, rr == expected, "CMC * n_m / (n_m + n_nm)")
    for key, at in fig["at"].items():
        t = float(key)
        dirs = at["dir"]
        if n_m:
            theirs = [float(bob.measure.detection_identification_rate(pairs, t, rank=r)) for r in ranks]
            table.add(where, f"DIR at T={t:.6g} ranks {ranks}", [dirs[r - 1] for r in ranks], theirs,
                      theirs == [dirs[r - 1] for r in ranks])
            for r_s, fnir in at["fnir"].items():
                d = float(bob.measure.detection_identification_rate(mated, t, rank=int(r_s)))
                expected = float(Fraction(n_m - _count(d, n_m), n_m))
                table.add(where, f"FNIR(T={t:.6g}, {r_s})", fnir, expected, fnir == expected, "1 - DIR, by counts")
        else:
            table.add(where, f"DIR at T={t:.6g}", dirs[0], None, all(v is None for v in dirs), "no mated: NaN")
        if n_nm:
            far = float(bob.measure.false_alarm_rate(pairs, t))
            table.add(where, f"FPIR at T={t:.6g}", at["fpir"], far, at["fpir"] == far, "false_alarm_rate")
        else:
            table.add(where, f"FPIR at T={t:.6g}", at["fpir"], None, at["fpir"] is None, "no non-mated: NaN")
        n_fp = _count(at["fpir"], n_nm) if n_nm else 0
        if n_m + n_fp:
            below = t - report["half_step"]
            rr = [float(bob.measure.recognition_rate(pairs, threshold=below, rank=r)) for r in ranks]
            expected = [float(Fraction(_count(dirs[r - 1], n_m), n_m + n_fp)) for r in ranks]
            table.add(where, f"recognition_rate T={t:.6g}", expected, rr, rr == expected,
                      "t = T - 2**-15; DIR*n_m/(n_m+n_fp)")


def compare(out: Path) -> int:
    import bob.measure

    report = json.loads((out / "fairaudit.json").read_text())
    table = Table("bob.measure", _fmt)
    for name, entry in report["sets"].items():
        probes, real_of, neg, pos, best = _load(out / entry["file"], entry["ncols"])
        group_of = entry["people"]
        for label, fig in entry["figures"].items():
            sel = [p for p in probes if label == "pooled" or group_of[real_of[p]] == label]
            _compare_group(table, f"{name}/{label}", _pairs(sel, neg, pos, best, collapse=True), fig, report)
        everyone = _pairs(probes, neg, pos, best, collapse=True)
        ties, tie_share = _mate_ties(everyone), _specs()[name][4]
        table.add(f"{name}/pooled", "mates tied with a non-mate", ties, None, (ties > 0) == (tie_share > 0),
                  "some (ties compared)" if tie_share > 0 else "none drawn")
        for key, (t, fpir) in entry["fpir_policy"].items():
            x = float(key)
            at = float(bob.measure.false_alarm_rate(everyone, t))
            before = float(bob.measure.false_alarm_rate(everyone, float(np.nextafter(t, -np.inf))))
            table.add(f"{name}/pooled", f"fpir={key}: threshold", t, (at, before), at == fpir and at <= x < before,
                      "FPIR(t) <= x < FPIR(t-)")
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
