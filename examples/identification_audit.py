"""One-to-many (1:N) identification audit: a gallery searched by probes, errors per group of the probe.

The synthetic "diveface" population plants a 1:N differential: FNIR (mated searches whose mate is
not returned) follows the planted FNMR order, highest for women of group N (M & N), and FPIR
(non-mated searches that return someone) the planted FMR order, highest for women of group A
(M & A). The roles are fixed once (synthetic.search_roles): half of each group's identities are held
out of the gallery, so that their searches are non-mated; every other identity enrols one sample
and searches with the others. The threshold is the one where the pooled FPIR is 2 %, as NIST's 1:N
reports set it; every group is then audited at that one threshold.
Run: python examples/identification_audit.py [OUT_DIR]
"""

import sys
from pathlib import Path

import fairaudit
from fairaudit import synthetic
from fairaudit.identification import plots

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example-out")
out.mkdir(parents=True, exist_ok=True)

pop = synthetic.population("diveface", n_identities=250, samples_per_identity=4, random_state=0)
roles = synthetic.search_roles(pop, nonmated_share=0.5, random_state=0)  # "gallery" or "probe" per sample
result = fairaudit.identification_audit(pop, by=["gender", "ethnicity"], gallery=roles,
                                        threshold="fpir=0.02", n_boot=1000, random_state=0)

p = result.params
print(f"{p['n_probes']:,} searches of a gallery of {p['n_gallery_identities']:,} identities; "
      f"threshold {result.threshold:.4f} ({result.policy['description']})")
print()
bg = result.by_group.set_index("label")
table = bg[["n_mated", "n_nonmated", "fnir", "fnir_ci_low", "fnir_ci_high", "fpir", "fpir_ci_low",
            "fpir_ci_high", "rank1"]].round(3)
print("Per group of the probe: FNIR at rank 1 and FPIR at the threshold, with 95 % intervals")
print(table.to_string())
print()
planted = synthetic.planted("diveface")
for metric, rank in (("fnir", "fnir_rank"), ("fpir", "fpir_rank")):
    expected = planted[rank].idxmin()  # "MN": the group label without " & "
    print(f"highest {metric.upper()}: group {bg[metric].idxmax()} (planted: {expected[0]} & {expected[1]})")
print()
fpir = result.comparisons.query("metric == 'fpir' and kind == 'vs_rest'").set_index("group_a")
print("FPIR of each group against the rest: ratio, Holm-adjusted permutation p-value")
print(fpir[["ratio", "p_holm"]].round(3).to_string())
print()
print("Top-K lift: share of each candidate group in the top-20 lists of non-mated searches, over its")
print("share of the gallery (rows: probe group; above 1, the group crowds the lists)")
print(result.landing_matrix("top_k_lift").round(2).to_string())
print()
print("FPIR at the same threshold in nested random sub-galleries (rows: enrolled identities)")
print(result.gallery_size.pivot(index="gallery_identities", columns="group", values="fpir").round(4).to_string())

result.to_json(out / "identification.json")
written = plots.save_all(result, out)
print()
print(f"written to {out}: identification.json and {len(written)} figures")
