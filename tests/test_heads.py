"""Classifier heads (fairaudit.heads)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from fairaudit import FairauditInputError
from fairaudit.classification import heads
from fairaudit.classification.heads import HEADS, KerasMLPClassifier, resolve_head, seed_estimator


def _blobs(n=120, d=8, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.array(["H", "M"]), n // 2)
    X = rng.standard_normal((n, d)).astype(np.float32)
    X[:, 0] += np.where(y == "M", 2.0, -2.0)
    return X, y


def test_registry_names_the_built_in_heads():
    assert set(HEADS) == {"logistic", "mlp"}
    assert isinstance(HEADS["mlp"](), KerasMLPClassifier)


def test_logistic_head_is_a_fresh_scaled_logistic_regression():
    a, b = resolve_head("logistic"), resolve_head("logistic")
    assert a is not b
    assert isinstance(a, Pipeline)
    assert isinstance(a[-1], LogisticRegression)
    assert a[-1].max_iter == 1000
    X, y = _blobs()
    fitted = clone(a).fit(X, y)
    assert list(fitted.classes_) == ["H", "M"]
    assert fitted.score(X, y) > 0.95


def test_resolve_head_returns_estimator_instances_as_given():
    est = LogisticRegression()
    assert resolve_head(est) is est


def test_unknown_head_name_lists_the_available_heads():
    with pytest.raises(FairauditInputError) as info:
        resolve_head("svm")
    assert str(info.value) == heads.UNKNOWN_HEAD.format(value="svm", available=["logistic", "mlp"])


def test_head_class_instead_of_instance_is_refused():
    with pytest.raises(FairauditInputError) as info:
        resolve_head(LogisticRegression)
    assert str(info.value) == heads.HEAD_IS_CLASS.format(value=LogisticRegression, name="LogisticRegression")


def test_object_without_predict_proba_is_refused():
    from sklearn.svm import LinearSVC

    est = LinearSVC()
    with pytest.raises(FairauditInputError) as info:
        resolve_head(est)
    assert str(info.value) == heads.NOT_A_HEAD.format(value=est, type="LinearSVC",
                                                      available=["logistic", "mlp"])


def test_seed_estimator_sets_random_state_inside_pipelines():
    est = seed_estimator(resolve_head("logistic"), 7)
    assert est.get_params()["logisticregression__random_state"] == 7
    assert seed_estimator(KerasMLPClassifier(), 3).random_state == 3


def test_mlp_follows_the_scikit_learn_estimator_contract_without_tensorflow():
    mlp = KerasMLPClassifier(hidden_units=16, epochs=2, batch_size=8, learning_rate=0.01,
                             random_state=1, verbose=0)
    assert mlp.get_params() == {"hidden_units": 16, "epochs": 2, "batch_size": 8,
                                "learning_rate": 0.01, "random_state": 1, "verbose": 0}
    copy = clone(mlp)
    assert copy is not mlp and copy.get_params() == mlp.get_params()
    assert not hasattr(copy, "classes_")
    assert KerasMLPClassifier().get_params()["hidden_units"] == 2048
    assert KerasMLPClassifier().epochs == 20 and KerasMLPClassifier().batch_size == 32


@pytest.mark.parametrize("name,value,rule,example", [
    ("hidden_units", 0, "an integer >= 1", 2048),
    ("epochs", 1.5, "an integer >= 1", 20),
    ("batch_size", None, "an integer >= 1", 32),
    ("learning_rate", -1.0, "a positive number", 1e-3),
])
def test_mlp_bad_parameters_are_refused_before_tensorflow_loads(name, value, rule, example):
    X, y = _blobs(20)
    with pytest.raises(FairauditInputError) as info:
        KerasMLPClassifier(**{name: value}).fit(X, y)
    assert str(info.value) == heads.BAD_MLP_PARAM.format(name=name, value=value, rule=rule, example=example)


def test_importing_heads_and_audits_does_not_import_tensorflow():
    code = ("import sys, fairaudit, fairaudit.classification.heads, fairaudit.classification.audit, "
            "fairaudit.classification.splits, fairaudit.diagnostics.audit; "
            "fairaudit.classification.heads.resolve_head('mlp'); "
            "assert not any(m == 'tensorflow' or m.startswith(('tensorflow.', 'tf_keras', 'keras')) "
            "for m in sys.modules), 'tensorflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- with TensorFlow ------------------------------------------------------------
def test_mlp_fits_and_predicts_probabilities():
    pytest.importorskip("tensorflow")
    X, y = _blobs(80)
    mlp = KerasMLPClassifier(hidden_units=16, epochs=15, batch_size=16, learning_rate=0.01, random_state=0)
    assert mlp.fit(X, y) is mlp
    proba = mlp.predict_proba(X)
    assert proba.shape == (80, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    assert list(mlp.classes_) == ["H", "M"]
    assert mlp.n_features_in_ == 8
    assert set(mlp.history_) >= {"loss", "accuracy"}
    assert mlp.score(X, y) > 0.9
    assert list(np.unique(mlp.predict(X))) == ["H", "M"]


def test_mlp_with_the_same_random_state_is_reproducible():
    pytest.importorskip("tensorflow")
    X, y = _blobs(40)
    a = KerasMLPClassifier(hidden_units=8, epochs=2, batch_size=8, random_state=3).fit(X, y)
    b = clone(a).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_mlp_fit_through_the_cached_network_matches_a_fresh_network():
    pytest.importorskip("tensorflow")
    X, y = _blobs(40)
    y3 = np.array(["A", "B", "C", "D"] * 10)
    params = dict(hidden_units=8, epochs=2, batch_size=16)
    heads.clear_network_cache()
    fresh = KerasMLPClassifier(random_state=3, **params).fit(X, y)  # builds the network
    expected = fresh.predict_proba(X)
    # the same shape with another seed, and another shape: the cache is reused and left dirty
    KerasMLPClassifier(random_state=4, **params).fit(X, y)
    KerasMLPClassifier(random_state=3, **params).fit(X, y3)
    cached = KerasMLPClassifier(random_state=3, **params).fit(X, y)
    np.testing.assert_array_equal(cached.predict_proba(X), expected)
    assert cached.history_ == fresh.history_
    np.testing.assert_array_equal(fresh.predict_proba(X), expected)  # later fits left it alone
    heads.clear_network_cache()
    again = KerasMLPClassifier(random_state=3, **params).fit(X, y)
    np.testing.assert_array_equal(again.predict_proba(X), expected)


def test_mlp_trains_as_keras_trains_the_same_model():
    pytest.importorskip("tensorflow")
    keras = pytest.importorskip("tf_keras")
    X, y = _blobs(40)  # batches of 16, 16 and a partial 8
    mlp = KerasMLPClassifier(hidden_units=8, epochs=2, batch_size=16, learning_rate=0.01,
                             random_state=5).fit(X, y)
    seed = np.random.RandomState(5).randint(0, 2**31 - 1)
    rng, weights = heads.initial_weights(seed, 8, 8, 2)
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.set_weights(weights)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="categorical_crossentropy")
    onehot = np.eye(2, dtype=np.float32)[(y == "M").astype(int)]
    for _ in range(2):
        order = rng.permutation(len(X))
        for start in range(0, len(X), 16):
            model.train_on_batch(X[order[start:start + 16]], onehot[order[start:start + 16]])
    got = [w for pair in zip(mlp.coefs_, mlp.intercepts_) for w in pair]
    for mine, theirs in zip(got, model.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mlp.predict_proba(X), model(X).numpy(), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(mlp.model_(X).numpy(), mlp.predict_proba(X), atol=1e-6)


def test_a_fitted_mlp_pickles_and_predicts_the_same():
    pytest.importorskip("tensorflow")
    import pickle

    X, y = _blobs(40)
    mlp = KerasMLPClassifier(hidden_units=8, epochs=1, batch_size=16, random_state=0).fit(X, y)
    copy = pickle.loads(pickle.dumps(mlp))
    np.testing.assert_array_equal(copy.predict_proba(X), mlp.predict_proba(X))
    assert mlp.predict_proba(X[:0]).shape == (0, 2)


def test_mlp_refuses_a_single_class():
    pytest.importorskip("tensorflow")
    X, _ = _blobs(10)
    with pytest.raises(FairauditInputError) as info:
        KerasMLPClassifier(epochs=1).fit(X, np.array(["H"] * 10))
    assert str(info.value) == heads.MLP_ONE_CLASS.format(value="H")


def test_mlp_head_runs_in_a_classification_audit():
    pytest.importorskip("tensorflow")
    from fairaudit import classification_audit, synthetic

    data = synthetic.population("diveface", n_identities=6, samples_per_identity=2, dim=24, random_state=1)
    head = KerasMLPClassifier(hidden_units=8, epochs=1, batch_size=16)
    result = classification_audit(data, target="gender", by="ethnicity", head=head, split="pooled",
                                  n_seeds=1, progress=False)
    assert result.params["head"] == "KerasMLPClassifier"
    assert result.params["head_params"]["epochs"] == 1
    assert result.provenance["versions"].get("tensorflow")
    assert len(result.predictions) == result.cross.loc[result.cross.test_group == "all", "n_test"].item()


def test_a_plugin_head_resolves_by_name_and_is_unregistered_after():
    from sklearn.linear_model import LogisticRegression

    from fairaudit import hookimpl
    from fairaudit import plugins

    class Plugin:
        @hookimpl
        def register_heads(self, register):
            register("tiny-logistic", lambda: LogisticRegression(C=0.5), description="test head")

    name = plugins.register_plugin(Plugin(), name="test-heads")
    try:
        head = resolve_head("tiny-logistic")
        assert isinstance(head, LogisticRegression) and head.C == 0.5
    finally:
        plugins.unregister_plugin(name)
    with pytest.raises(FairauditInputError) as info:
        resolve_head("tiny-logistic")
    assert "logistic" in str(info.value) and "mlp" in str(info.value)
