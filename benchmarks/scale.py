"""The verification engine at scale: out of core, single-process and on Dask.

Targets (issue 7) at N = 200,000 x 512 (2e10 pairs), no bootstrap:

(a) the single-process engine on a memory-mapped ``.npy``: time, peak memory
    (target under 4 GB) and the ratio to the bare matrix products of the same
    work (every upper-triangle tile product, numpy on all cores, results
    discarded), timed in the same process just before;
(b) the Dask engine on a local cluster of 1 and of 2 worker processes;
(c) the Dask engine (2 workers) against the single-process engine (2 threads)
    on this machine: target overhead under 20 %.

Every configuration runs in a fresh child process so that its peak resident
memory (``ru_maxrss``, which also counts the pages of memory-mapped files it
touched) is its own. Dask workers report their own peak. The results of all
configurations are compared and must be identical.

Usage: python benchmarks/scale.py [--n 200000] [--d 512] [--workers 1 2] [--skip-bare]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np


def write_population(folder: Path, n: int, d: int, seed: int = 0) -> tuple[Path, Path]:
    """Six groups, five samples per identity, written block by block (never all in memory at float64)."""
    rng = np.random.default_rng(seed)
    n_ids = n // 5
    path = folder / "embeddings.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_ids * 5, d))
    block = 10_000  # identities per block
    for start in range(0, n_ids, block):
        m = min(block, n_ids - start)
        centres = rng.standard_normal((m, d), dtype=np.float32)
        x = np.repeat(centres, 5, axis=0) + 0.9 * rng.standard_normal((m * 5, d), dtype=np.float32)
        out[start * 5:(start + m) * 5] = x
    out.flush()
    del out
    ids = np.repeat(np.arange(n_ids), 5)
    group = np.array(["HA", "HB", "HN", "MA", "MB", "MN"])[ids % 6]
    labels = folder / "labels.npz"
    np.savez(labels, identity=ids.astype(str), group=group)
    return path, labels


def _load(npy: str, labels: str):
    import fairaudit

    z = np.load(labels)
    return fairaudit.EmbeddingSet.from_npy(npy, identity=z["identity"], attributes={"group": z["group"]})


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def bare_products(npy: str, tile: int) -> float:
    """Every upper-triangle tile product of the embeddings, on all cores; results discarded."""
    x = np.load(npy, mmap_mode="r")
    n = x.shape[0]
    starts = list(range(0, n, tile))
    x = np.ascontiguousarray(x)
    t = time.perf_counter()
    for i in starts:
        a = x[i:i + tile]
        for j in starts:
            if j < i:
                continue
            b = x[j:j + tile].copy()  # distinct arrays: gemm, not syrk
            a @ b.T
    elapsed = time.perf_counter() - t
    del x
    return elapsed


def _child(kind: str, npy: str, labels: str, workers: int, tile: int, skip_bare: bool, out: str) -> None:
    import fairaudit

    report: dict = {"kind": kind, "workers": workers}
    if kind == "single" and not skip_bare:
        report["bare_s"] = bare_products(npy, tile)
    es = _load(npy, labels)
    t = time.perf_counter()
    if kind == "single":
        result = fairaudit.verification_audit(es, by="group", n_boot=0, tile=tile, progress=False)
    else:
        import distributed

        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
            client.run(lambda: None)  # workers are up before the clock starts
            t = time.perf_counter()
            result = fairaudit.verification_audit(es, by="group", n_boot=0, tile=tile, progress=False,
                                                  scheduler=client)
            report["audit_s"] = time.perf_counter() - t
            peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
            report["worker_peak_mb"] = max(peaks.values())
    report.setdefault("audit_s", time.perf_counter() - t)
    report["peak_mb"] = _peak_mb()
    report["by_group"] = result.by_group[["fmr", "fnmr", "n_impostor", "n_genuine"]].to_json()
    report["threshold"] = result.threshold
    Path(out).write_text(json.dumps(report))


def run(kind: str, npy: Path, labels: Path, workers: int, tile: int, skip_bare: bool, tmp: Path) -> dict:
    out = tmp / f"{kind}-{workers}.json"
    proc = mp.get_context("spawn").Process(target=_child, args=(kind, str(npy), str(labels), workers, tile,
                                                                 skip_bare, str(out)))
    proc.start()
    proc.join()
    if proc.exitcode != 0:
        raise SystemExit(f"{kind} with {workers} worker(s) failed (exit {proc.exitcode})")
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--tile", type=int, default=2048)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-bare", action="store_true", help="skip the bare matrix-product baseline")
    args = parser.parse_args()

    from fairaudit.common.provenance import blas_info

    pairs = args.n * (args.n - 1) / 2
    print(f"N = {args.n:,} x {args.d} ({pairs:.2e} pairs), tile {args.tile}, {os.cpu_count()} cores, "
          f"BLAS: {blas_info()}")
    with tempfile.TemporaryDirectory(prefix="fairaudit-scale-") as folder:
        tmp = Path(folder)
        t = time.perf_counter()
        npy, labels = write_population(tmp, args.n, args.d)
        print(f"population written to a .npy in {time.perf_counter() - t:.1f} s "
              f"({npy.stat().st_size / 2**20:,.0f} MB)")
        single = run("single", npy, labels, 0, args.tile, args.skip_bare, tmp)
        line = f"(a) single process: {single['audit_s']:8.1f} s, peak {single['peak_mb']:,.0f} MB"
        if "bare_s" in single:
            line += (f"; bare products {single['bare_s']:.1f} s -> ratio "
                     f"{single['audit_s'] / single['bare_s']:.2f}")
        print(line, flush=True)
        dask = {}
        for k in args.workers:
            dask[k] = run("dask", npy, labels, k, args.tile, True, tmp)
            print(f"(b) Dask, {k} worker(s): {dask[k]['audit_s']:8.1f} s, client peak {dask[k]['peak_mb']:,.0f} "
                  f"MB, worker peak {dask[k]['worker_peak_mb']:,.0f} MB", flush=True)
        if 1 in dask and 2 in dask:
            print(f"(b) 2 workers vs 1: speed-up {dask[1]['audit_s'] / dask[2]['audit_s']:.2f}x")
        if 2 in dask:
            print(f"(c) Dask (2 workers) vs single process (2 threads): "
                  f"overhead {dask[2]['audit_s'] / single['audit_s'] - 1:+.1%}")
        same = all(r["by_group"] == single["by_group"] and r["threshold"] == single["threshold"]
                   for r in dask.values())
        print(f"identical results in every configuration: {same}")
        if not same:
            raise SystemExit("results differ between engines")


if __name__ == "__main__":
    main()
