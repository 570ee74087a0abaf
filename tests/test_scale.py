"""Out-of-core EmbeddingSets and the Dask engine give the single-process numbers, bit for bit."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pandas as pd
import pytest

import fairaudit
from fairaudit import EmbeddingSet, FairauditInputError, synthetic
from fairaudit.data import embedding_set as embeddings_module
from fairaudit.cli import main

distributed = pytest.importorskip("distributed")

BY = ["gender", "ethnicity"]
AUDIT = dict(by=BY, n_boot=40, tile=48, random_state=3)


@pytest.fixture(scope="module")
def population():
    return synthetic.population("diveface", n_identities=30, samples_per_identity=4, dim=32, random_state=5)


@pytest.fixture(scope="module")
def reference(population):
    return fairaudit.verification_audit(population, **AUDIT)


def assert_identical(a, b):
    """Every number of two results, compared exactly (no tolerance)."""
    for name in ("by_group", "curves", "histograms", "fairness", "cross_fmr", "cross_impostor"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name), check_exact=True, obj=name)
    pd.testing.assert_series_equal(a.overall, b.overall, check_exact=True)
    assert a.threshold == b.threshold


# --------------------------------------------------------------------------
# out of core
# --------------------------------------------------------------------------
def test_blocks_equal_the_normalised_rows(population, monkeypatch):
    monkeypatch.setattr(embeddings_module, "BLOCK_ROWS", 50)
    blocks = list(population.iter_blocks())
    assert [start for start, _ in blocks] == list(range(0, len(population), 50))
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), population.normalized())
    raw = np.concatenate([b for _, b in population.iter_blocks(normalized=False, rows=7)])
    np.testing.assert_array_equal(raw, population.embeddings)


def test_npy_memmap_set_gives_identical_results(population, reference, tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings_module, "BLOCK_ROWS", 64)  # several blocks
    np.save(tmp_path / "emb.npy", population.embeddings.astype(np.float64))  # any float dtype
    es = EmbeddingSet.from_npy(tmp_path / "emb.npy", identity=population.identity,
                               attributes=population.attributes)
    assert es.out_of_core and isinstance(es.embeddings, np.memmap)
    result = fairaudit.verification_audit(es, scratch_dir=str(tmp_path), **AUDIT)
    assert_identical(reference, result)
    assert [p.name for p in tmp_path.iterdir()] == ["emb.npy"]  # the sorted file is cleaned up


def test_parquet_row_groups_give_identical_results(population, reference, tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings_module, "BLOCK_ROWS", 100)
    population.save(tmp_path / "set.parquet")
    import pyarrow.parquet as pq

    assert pq.ParquetFile(tmp_path / "set.parquet").num_row_groups == -(-len(population) // 100)
    es = EmbeddingSet.load(tmp_path / "set.parquet", out_of_core=True)
    assert es.out_of_core and len(es) == len(population)
    assert list(es.attribute_names) == list(population.attribute_names)
    result = fairaudit.verification_audit(es, **AUDIT)
    assert_identical(reference, result)
    np.testing.assert_array_equal(es.embeddings, population.embeddings)


def test_out_of_core_checks_every_block(tmp_path, monkeypatch):
    monkeypatch.setattr(embeddings_module, "BLOCK_ROWS", 4)
    x = np.ones((12, 3))
    x[9, 1] = np.nan
    x[5] = 0.0
    np.save(tmp_path / "bad.npy", x)
    ident = np.repeat(["a", "b", "c"], 4)
    with pytest.raises(FairauditInputError, match=r"1 row.*\[9\]"):
        EmbeddingSet.from_npy(tmp_path / "bad.npy", identity=ident)
    x[9, 1] = 1.0
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(FairauditInputError, match=r"\[5\]"):
        EmbeddingSet.from_npy(tmp_path / "bad.npy", identity=ident)
    x[5] = 1.0
    np.save(tmp_path / "bad.npy", x)
    with pytest.raises(FairauditInputError, match="identity"):
        EmbeddingSet.from_npy(tmp_path / "bad.npy", identity=ident[:-1])


def test_out_of_core_bad_files(tmp_path, population):
    with pytest.raises(FairauditInputError, match="does not exist"):
        EmbeddingSet.from_npy(tmp_path / "missing.npy", identity=["a", "b"])
    population.save(tmp_path / "set.npz")
    with pytest.raises(FairauditInputError, match="out_of_core=True cannot read"):
        EmbeddingSet.load(tmp_path / "set.npz", out_of_core=True)
    with pytest.raises(FairauditInputError, match="'.npy'"):
        EmbeddingSet.from_npy(tmp_path / "set.npz", identity=["a", "b"])
    np.save(tmp_path / "text.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(FairauditInputError, match="numeric"):
        EmbeddingSet.from_npy(tmp_path / "text.npy", identity=["a", "b"])


# --------------------------------------------------------------------------
# Dask
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def client():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        yield c


def test_local_cluster_gives_identical_results(population, reference, client):
    result = fairaudit.verification_audit(population, scheduler=client, **AUDIT)
    assert_identical(reference, result)
    assert result.params["engine"] == "dask"
    assert reference.params["engine"] == "single-process"
    # the client stays usable: fairaudit closes only what it opened
    assert client.submit(sum, [1, 2]).result() == 3


def test_scheduler_address_gives_identical_results(population, reference, client):
    address = client.scheduler.address
    assert address.startswith("tcp://")
    result = fairaudit.verification_audit(population, scheduler=address, **AUDIT)
    assert_identical(reference, result)
    with pytest.raises(FairauditInputError, match="cannot resize the cluster"):
        fairaudit.verification_audit(population, scheduler=address, workers=2, **AUDIT)


def test_threads_scheduler_gives_identical_results(population, reference):
    result = fairaudit.verification_audit(population, scheduler="threads", workers=2, **AUDIT)
    assert_identical(reference, result)


class KillOnce(distributed.WorkerPlugin):
    """Kills the worker named ``target`` (hard, like the OOM killer) when its first engine task starts
    (the run has a handful of tasks, and the other worker may take most of them)."""

    def __init__(self, target, flag):
        self.target, self.flag, self.started = target, flag, 0

    def setup(self, worker):
        self.worker = worker

    def transition(self, key, start, finish, **kwargs):
        name = key if isinstance(key, str) else str(key)
        if finish != "executing" or "fairaudit-pass1" not in name or self.worker.name != self.target:
            return
        self.started += 1
        if self.started == 1 and not os.path.exists(self.flag):
            with open(self.flag, "w") as fh:
                fh.write(name)
            os._exit(1)


def test_a_worker_killed_mid_run_changes_nothing(population, reference, tmp_path):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import this test module
    flag = tmp_path / "killed"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as c:
        c.register_plugin(KillOnce(target=0, flag=str(flag)))
        result = fairaudit.verification_audit(population, scheduler=c, **AUDIT)
    assert flag.exists(), "the worker was not killed: the test did not test anything"
    assert_identical(reference, result)


def test_scheduler_bad_input(population, client, tmp_path):
    with pytest.raises(FairauditInputError, match="scheduler='nonsense'"):
        fairaudit.verification_audit(population, scheduler="nonsense", **AUDIT)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(FairauditInputError, match="workers="):
            fairaudit.verification_audit(population, workers=bad, **AUDIT)
    with pytest.raises(FairauditInputError, match="cannot resize an existing Client"):
        fairaudit.verification_audit(population, scheduler=client, workers=2, **AUDIT)
    with pytest.raises(FairauditInputError, match="scratch_dir=.*is not a directory"):
        fairaudit.verification_audit(population, scheduler=client, scratch_dir=str(tmp_path / "no"), **AUDIT)


def test_scratch_dir_workers_cannot_read_is_explained(population, client, monkeypatch):
    monkeypatch.setattr(os.path, "exists", os.path.exists)  # keep the real check local
    from fairaudit.common import executors as dask_engine

    executor = dask_engine.DaskExecutor(client)
    with pytest.raises(FairauditInputError, match="cannot read '/nowhere/x.npy'.*shared|every worker"):
        executor.check_readable("/nowhere/x.npy")


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------
def test_cli_npy_with_labels_and_workers(population, reference, tmp_path, capsys):
    np.save(tmp_path / "emb.npy", population.embeddings)
    labels = population.attributes
    labels.insert(0, "identity", population.identity)
    labels.to_csv(tmp_path / "labels.csv", index=False)
    args = [str(tmp_path / "emb.npy"), "--labels", str(tmp_path / "labels.csv"), "--by", "gender",
            "--by", "ethnicity", "--n-boot", "40", "--seed", "3"]
    assert main(["verify", *args, "--json", str(tmp_path / "one.json")]) == 0
    assert main(["verify", *args, "--workers", "2", "--json", str(tmp_path / "two.json")]) == 0
    one = json.loads((tmp_path / "one.json").read_text())
    two = json.loads((tmp_path / "two.json").read_text())
    for key in ("by_group", "fairness", "curves", "cross_fmr", "threshold"):
        assert one[key] == two[key], key


def test_cli_npy_needs_labels(tmp_path, capsys):
    np.save(tmp_path / "emb.npy", np.ones((4, 3)))
    assert main(["verify", str(tmp_path / "emb.npy"), "--by", "gender"]) == 2
    assert "--labels" in capsys.readouterr().err
    pd.DataFrame({"who": list("aabb")}).to_csv(tmp_path / "l.csv", index=False)
    assert main(["verify", str(tmp_path / "emb.npy"), "--labels", str(tmp_path / "l.csv"), "--by", "g"]) == 2
    assert "no 'identity' column" in capsys.readouterr().err
