"""Classifier heads: the models a classification audit trains on top of embeddings.

A head is any unfitted scikit-learn style classifier with ``fit`` and
``predict_proba``. The audit ``clone``\\ s it before every fit, so one head
object can serve many models. Two heads are built in:

``"logistic"``
    scikit-learn's ``LogisticRegression`` (L-BFGS, ``max_iter=1000``) after a
    ``StandardScaler``. Fast, deterministic, the default. The scaler makes the
    L2 penalty mean the same thing whatever the scale of the embedding
    coordinates (L2-normalised 2048-d embeddings have coordinates near 0.02).
``"mlp"``
    :class:`KerasMLPClassifier`, the head of the reference study:
    ``Dense(2048, ReLU) -> Dense(k, softmax)``, Adam, categorical
    cross-entropy, 20 epochs, batch 32, trained by a loop compiled once per
    network shape and reused by every fit. Needs the optional extra
    ``pip install fairaudit[tensorflow]``; TensorFlow is imported only when
    the head is fitted or used to predict.

:data:`HEADS` maps each built-in name to a factory that returns a new unfitted head
(registered through the ``register_heads`` hook like any plugin's heads);
:func:`resolve_head` turns the ``head=`` argument of an audit into an estimator.
"""

from __future__ import annotations

import numbers
import threading
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from fairaudit.common import errors

# --- error messages ---------------------------------------------------------
UNKNOWN_HEAD = (
    "head={value!r} is not a registered head; available heads: {available}. Fix: pass "
    "one of these names or an unfitted scikit-learn classifier with fit and predict_proba."
)
NOT_A_HEAD = (
    "head={value!r} (a {type}) is not a classifier head: it needs fit and predict_proba "
    "methods. Fix: pass a head name ({available}) or an estimator such as "
    "sklearn.linear_model.LogisticRegression()."
)
HEAD_IS_CLASS = (
    "head={value!r} is a class, not an estimator instance. Fix: instantiate it, e.g. "
    "head={name}()."
)
NO_TENSORFLOW = (
    "head 'mlp' (KerasMLPClassifier) needs TensorFlow, which is not installed. Fix: "
    "pip install 'fairaudit[tensorflow]' (tensorflow-cpu and tf-keras), or use "
    "head='logistic'."
)
BAD_MLP_PARAM = (
    "KerasMLPClassifier: {name}={value!r} must be {rule}. Fix: pass e.g. {name}={example}."
)
MLP_BAD_SHAPE = (
    "KerasMLPClassifier: X has shape {shape}; this head was fitted on {d} features. Fix: "
    "pass embeddings of the same dimension as the training data."
)
MLP_ONE_CLASS = (
    "KerasMLPClassifier.fit: y has a single class {value!r}; a classifier needs at "
    "least two. Fix: train on samples of at least two classes."
)


#: Adam's constants, Keras' defaults (``beta_1``, ``beta_2``, ``epsilon``)
ADAM_BETA_1, ADAM_BETA_2, ADAM_EPSILON = 0.9, 0.999, 1e-7
#: compiled networks kept for reuse, one per shape; the least recently used is dropped first
MAX_CACHED_NETWORKS = 4
#: rows per forward pass in ``predict_proba``
PREDICT_CHUNK = 4096


class KerasMLPClassifier(ClassifierMixin, BaseEstimator):
    """The reference study's Keras head as a scikit-learn classifier.

    Architecture: ``Dense(hidden_units, ReLU) -> Dense(n_classes, softmax)``
    with Keras' default initialisation (Glorot-uniform kernels, zero biases),
    trained with Adam (``beta_1=0.9``, ``beta_2=0.999``, ``epsilon=1e-7``) on
    categorical cross-entropy, the rows reshuffled every epoch and the last
    batch partial: what Keras' ``model.fit(X, onehot, epochs=epochs,
    batch_size=batch_size, shuffle=True)`` does with that model.

    Parameters
    ----------
    hidden_units : int, default 2048
        Width of the hidden layer (the study used 2048, the embedding size).
    epochs : int, default 20
        Passes over the training data.
    batch_size : int, default 32
        Mini-batch size.
    learning_rate : float, default 1e-3
        Adam learning rate (Keras' default).
    random_state : int, RandomState instance or None, default None
        Seeds the initial weights and the batch order of every epoch through a
        NumPy ``RandomState`` of the fit's own; nothing process-global is
        seeded. The same value gives the same predictions (on one machine, with
        the same TensorFlow thread settings). None: the seed is drawn from
        NumPy's global generator, and fits are not reproducible.
    verbose : int, default 0
        0 silent; 1 or more: one line per epoch (loss and accuracy).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; column order of ``predict_proba``.
    n_features_in_ : int
        Embedding dimension seen in ``fit``.
    coefs_ : list of ndarray
        The fitted float32 kernels, ``(n_features, hidden_units)`` and
        ``(hidden_units, n_classes)``.
    intercepts_ : list of ndarray
        The fitted float32 biases, ``(hidden_units,)`` and ``(n_classes,)``.
    history_ : dict
        ``"loss"`` and ``"accuracy"`` per epoch, as Keras reports them (means
        over the epoch's batches, weighted by batch size).
    model_ : keras.Model
        A Keras model with the fitted weights, built when accessed.

    Notes
    -----
    How it is run. The training loop is compiled with ``tf.function`` once per
    network shape ``(n_features, hidden_units, n_classes)`` and kept in a small
    module-level cache (:data:`MAX_CACHED_NETWORKS`; :func:`clear_network_cache`
    empties it): the many fits of an audit re-initialise the same variables
    from their seed instead of building, compiling and tracing a new Keras
    model each. One call runs a whole epoch inside the graph, with no Python
    between batches, and the Adam update is TensorFlow's fused
    ``ResourceApplyAdam`` kernel (the one Keras 2's original Adam runs, the
    same update rule as ``keras.optimizers.Adam``). A fit through the cache
    gives exactly the predictions of a fit on a new network with the same seed.
    The fitted weights are copied out to ``coefs_`` and ``intercepts_``, so a
    later fit never changes an earlier estimator, which pickles without
    TensorFlow. ``predict_proba`` runs one compiled float32 forward pass, traced
    once for all shapes. TensorFlow is imported by ``fit`` and
    ``predict_proba`` only.
    """

    def __init__(
        self,
        hidden_units: int = 2048,
        epochs: int = 20,
        batch_size: int = 32,
        learning_rate: float = 1e-3,
        random_state: Any = None,
        verbose: int = 0,
    ) -> None:
        self.hidden_units = hidden_units
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self) -> None:
        for name, example in (("hidden_units", 2048), ("epochs", 20), ("batch_size", 32)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise errors.FairauditInputError(BAD_MLP_PARAM.format(
                    name=name, value=value, rule="an integer >= 1", example=example))
        lr = self.learning_rate
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not 0 < float(lr) < np.inf:
            raise errors.FairauditInputError(BAD_MLP_PARAM.format(
                name="learning_rate", value=lr, rule="a positive number", example=1e-3))

    def fit(self, X: Any, y: Any) -> "KerasMLPClassifier":
        """Train the network on embeddings ``X`` and labels ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        self._check_params()
        X = np.ascontiguousarray(X, dtype=np.float32)
        y = np.asarray(y)
        if X.ndim != 2:
            raise errors.FairauditInputError(errors.EMB_NOT_2D.format(shape=X.shape))
        if len(y) != len(X):
            raise errors.FairauditInputError(
                errors.LENGTH_MISMATCH.format(name="y", got=len(y), n=len(X)))
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise errors.FairauditInputError(MLP_ONE_CLASS.format(value=classes[0].tolist()))
        tf = _tensorflow()
        seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
        shape = (int(X.shape[1]), int(self.hidden_units), len(classes))
        rng, weights = initial_weights(seed, *shape)
        onehot = np.eye(len(classes), dtype=np.float32)[codes]
        fitted, history = _network(tf, shape).train(
            X, onehot, weights, rng, epochs=int(self.epochs), batch_size=int(self.batch_size),
            learning_rate=float(self.learning_rate), verbose=int(self.verbose))
        self.classes_ = classes
        self.n_features_in_ = shape[0]
        self.coefs_ = [fitted[0], fitted[2]]
        self.intercepts_ = [fitted[1], fitted[3]]
        self.history_ = history
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "coefs_")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise errors.FairauditInputError(
                MLP_BAD_SHAPE.format(shape=X.shape, d=self.n_features_in_))
        tf = _tensorflow()
        forward = _forward(tf)
        params = [tf.constant(w) for pair in zip(self.coefs_, self.intercepts_) for w in pair]
        parts = [forward(X[i:i + PREDICT_CHUNK], *params).numpy()
                 for i in range(0, len(X), PREDICT_CHUNK)]
        if not parts:
            return np.zeros((0, len(self.classes_)))
        return np.concatenate(parts).astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every sample."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    @property
    def model_(self) -> Any:
        """A Keras ``Sequential`` holding the fitted weights (built anew on every access)."""
        check_is_fitted(self, "coefs_")
        keras = _keras()
        model = keras.Sequential([
            keras.Input(shape=(self.n_features_in_,)),
            keras.layers.Dense(self.coefs_[0].shape[1], activation="relu"),
            keras.layers.Dense(self.coefs_[1].shape[1], activation="softmax"),
        ])
        model.set_weights([w for pair in zip(self.coefs_, self.intercepts_) for w in pair])
        return model


def initial_weights(seed: int, n_features: int, hidden_units: int, n_classes: int):
    """A fit's starting point: ``(rng, [kernel_1, bias_1, kernel_2, bias_2])``.

    Keras' defaults: Glorot-uniform kernels (``U(-l, l)``,
    ``l = sqrt(6 / (fan_in + fan_out))``) and zero biases, in float32, drawn
    from ``numpy.random.RandomState(seed)``; the fit then draws each epoch's
    row order from the returned ``rng`` with ``rng.permutation(n_samples)``.
    """
    rng = np.random.RandomState(seed)
    weights = []
    for fan_in, fan_out in ((n_features, hidden_units), (hidden_units, n_classes)):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        weights.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(np.float32))
        weights.append(np.zeros(fan_out, dtype=np.float32))
    return rng, weights


def _logits(tf, x, kernel_1, bias_1, kernel_2, bias_2):
    """The network before its softmax, as Keras' two ``Dense`` layers compute it."""
    hidden = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, kernel_1), bias_1))
    return tf.nn.bias_add(tf.matmul(hidden, kernel_2), bias_2)


class _Network:
    """Variables, Adam moments and the compiled epoch of one network shape, re-initialised per fit."""

    def __init__(self, tf, shape: tuple[int, int, int]) -> None:
        d, h, k = shape
        self.tf = tf
        shapes = [(d, h), (h,), (h, k), (k,)]
        self.params = [tf.Variable(tf.zeros(s)) for s in shapes]
        self.moments = [(tf.Variable(tf.zeros(s)), tf.Variable(tf.zeros(s))) for s in shapes]
        self.step = tf.Variable(0, dtype=tf.int64)
        self.lock = threading.Lock()
        spec = tf.TensorSpec
        self.epoch = tf.function(self._epoch, input_signature=[
            spec([None, d], tf.float32), spec([None, k], tf.float32), spec([None], tf.int32),
            spec([], tf.int32), spec([], tf.float32)])

    def _epoch(self, X, Y, order, batch_size, learning_rate):
        """One pass over ``X[order]`` in mini-batches; returns the epoch's mean loss and accuracy."""
        tf = self.tf
        n = tf.shape(order)[0]
        loss_sum, correct = tf.constant(0.0), tf.constant(0.0)
        beta_1, beta_2 = tf.constant(ADAM_BETA_1), tf.constant(ADAM_BETA_2)
        for start in tf.range(0, n, batch_size):
            rows = order[start:start + batch_size]
            x, y = tf.gather(X, rows), tf.gather(Y, rows)
            with tf.GradientTape() as tape:
                logits = _logits(tf, x, *self.params)
                loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
            grads = tape.gradient(loss, self.params)
            t = tf.cast(self.step.assign_add(1), tf.float32)
            for var, (m, v), grad in zip(self.params, self.moments, grads):
                tf.raw_ops.ResourceApplyAdam(
                    var=var.handle, m=m.handle, v=v.handle, beta1_power=tf.pow(beta_1, t),
                    beta2_power=tf.pow(beta_2, t), lr=learning_rate, beta1=beta_1, beta2=beta_2,
                    epsilon=tf.constant(ADAM_EPSILON), grad=grad)
            loss_sum += loss * tf.cast(tf.shape(rows)[0], tf.float32)
            hits = tf.equal(tf.argmax(logits, axis=1), tf.argmax(y, axis=1))
            correct += tf.reduce_sum(tf.cast(hits, tf.float32))
        total = tf.cast(n, tf.float32)
        return loss_sum / total, correct / total

    def train(self, X: np.ndarray, onehot: np.ndarray, weights: list, rng: np.random.RandomState, *,
              epochs: int, batch_size: int, learning_rate: float, verbose: int):
        """Start from ``weights`` with fresh Adam moments, train; return the weights and history."""
        tf = self.tf
        with self.lock:
            for var, value in zip(self.params, weights):
                var.assign(value)
            for pair in self.moments:
                for moment in pair:
                    moment.assign(tf.zeros_like(moment))
            self.step.assign(0)
            X_t, Y_t = tf.constant(X), tf.constant(onehot)
            hyper = (tf.constant(batch_size, tf.int32), tf.constant(learning_rate, tf.float32))
            history: dict[str, list[float]] = {"loss": [], "accuracy": []}
            for epoch in range(epochs):
                order = tf.constant(rng.permutation(len(X)).astype(np.int32))
                loss, accuracy = (float(v) for v in self.epoch(X_t, Y_t, order, *hyper))
                history["loss"].append(loss)
                history["accuracy"].append(accuracy)
                if verbose:
                    print(f"Epoch {epoch + 1}/{epochs} - loss: {loss:.4f} - accuracy: {accuracy:.4f}",
                          flush=True)
            fitted = [np.array(var.numpy(), copy=True) for var in self.params]
        return fitted, history


_NETWORKS: "OrderedDict[tuple[int, int, int], _Network]" = OrderedDict()
_NETWORKS_LOCK = threading.Lock()
_FORWARD: list = []


def _network(tf, shape: tuple[int, int, int]) -> _Network:
    """The cached network of ``shape`` (``n_features, hidden_units, n_classes``), built once."""
    with _NETWORKS_LOCK:
        network = _NETWORKS.pop(shape, None)
        if network is None:
            network = _Network(tf, shape)
        _NETWORKS[shape] = network
        while len(_NETWORKS) > MAX_CACHED_NETWORKS:
            _NETWORKS.popitem(last=False)
    return network


def clear_network_cache() -> None:
    """Drop :class:`KerasMLPClassifier`'s cached networks (their variables and compiled graphs)."""
    with _NETWORKS_LOCK:
        _NETWORKS.clear()


def _forward(tf):
    """The compiled forward pass to softmax probabilities, traced once for every shape."""
    with _NETWORKS_LOCK:
        if not _FORWARD:
            matrix, vector = tf.TensorSpec([None, None], tf.float32), tf.TensorSpec([None], tf.float32)
            _FORWARD.append(tf.function(lambda X, *params: tf.nn.softmax(_logits(tf, X, *params)),
                                        input_signature=[matrix, matrix, vector, matrix, vector]))
    return _FORWARD[0]


def _tensorflow():
    """The ``tensorflow`` module, or a FairauditInputError saying how to install it."""
    try:
        import tensorflow as tf
    except ImportError:
        raise errors.FairauditInputError(NO_TENSORFLOW) from None
    return tf


def _keras():
    """The Keras module to use: ``tf_keras`` (Keras 2) if installed, else ``tensorflow.keras``."""
    try:
        import tf_keras as keras  # the study's Keras 2 API
        return keras
    except ImportError:
        pass
    try:
        from tensorflow import keras
    except ImportError:
        raise errors.FairauditInputError(NO_TENSORFLOW) from None
    return keras


def make_logistic() -> Any:
    """The default head: ``StandardScaler`` then ``LogisticRegression(max_iter=1000)``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def make_mlp() -> KerasMLPClassifier:
    """The study's Keras head with its defaults (2048 hidden units, 20 epochs, batch 32)."""
    return KerasMLPClassifier()


#: registered heads: name -> factory returning a new unfitted estimator
HEADS: dict[str, Callable[[], Any]] = {
    "logistic": make_logistic,
    "mlp": make_mlp,
}


def is_head(obj: Any) -> bool:
    """True for an estimator instance with callable ``fit`` and ``predict_proba``."""
    return (not isinstance(obj, type) and callable(getattr(obj, "fit", None))
            and callable(getattr(obj, "predict_proba", None)))


def resolve_head(head: Any) -> Any:
    """Turn a head name or estimator into an unfitted estimator.

    Parameters
    ----------
    head : str or estimator
        A key of :data:`HEADS` (``"logistic"``, ``"mlp"``) or any scikit-learn
        style classifier instance with ``fit`` and ``predict_proba``. An
        instance is returned as is; the audit clones it before each fit.

    Returns
    -------
    estimator

    Raises
    ------
    FairauditInputError
        For an unknown name (the message lists the registered names), a class
        instead of an instance, or an object without ``fit``/``predict_proba``.
    """
    from fairaudit.plugins import registry

    # names resolve through the plugin registry: the built-ins above and any plugin's heads
    heads = registry("head")
    available = sorted(heads)
    if isinstance(head, str):
        if head not in heads:
            raise errors.FairauditInputError(UNKNOWN_HEAD.format(value=head, available=available))
        return heads[head].build()
    if isinstance(head, type):
        raise errors.FairauditInputError(HEAD_IS_CLASS.format(value=head, name=head.__name__))
    if not is_head(head):
        raise errors.FairauditInputError(
            NOT_A_HEAD.format(value=head, type=type(head).__name__, available=available))
    return head


def head_name(head: Any) -> str:
    """A short readable name of a head for tables and parameters."""
    if isinstance(head, str):
        return head
    steps = getattr(head, "steps", None)
    if steps:
        return " -> ".join(type(step).__name__ for _, step in steps)
    return type(head).__name__


def seed_estimator(estimator: Any, seed: int) -> Any:
    """Set every ``random_state`` parameter of ``estimator`` (also inside pipelines) to ``seed``."""
    get_params = getattr(estimator, "get_params", None)
    if get_params is None:
        return estimator
    keys = [k for k in get_params(deep=True) if k == "random_state" or k.endswith("__random_state")]
    if keys:
        estimator.set_params(**{k: int(seed) for k in keys})
    return estimator
