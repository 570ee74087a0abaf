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
    cross-entropy, 20 epochs, batch 32. Needs the optional extra
    ``pip install fairaudit[tensorflow]``; TensorFlow is imported only when
    the head is fitted or used to predict.

:data:`HEADS` maps each built-in name to a factory that returns a new unfitted head
(registered through the ``register_heads`` hook like any plugin's heads);
:func:`resolve_head` turns the ``head=`` argument of an audit into an estimator.
"""

from __future__ import annotations

import numbers
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


class KerasMLPClassifier(ClassifierMixin, BaseEstimator):
    """The reference study's Keras head as a scikit-learn classifier.

    Architecture: ``Dense(hidden_units, ReLU) -> Dense(n_classes, softmax)``,
    trained with Adam on categorical cross-entropy.

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
        Seeds weight initialisation and batch shuffling. When not None, ``fit``
        calls ``keras.utils.set_random_seed``, which is **process-global**: it
        seeds TensorFlow, NumPy's legacy global generator and Python's
        ``random``. The head does this only at fit time, never at import or
        construction; fairaudit itself never draws from those global
        generators, so its own results are unaffected. With None the global
        state is left alone and fits are not reproducible.
    verbose : int, default 0
        Keras verbosity during ``fit`` (0 silent, 1 progress bar, 2 one line
        per epoch).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted; column order of ``predict_proba``.
    n_features_in_ : int
        Embedding dimension seen in ``fit``.
    model_ : keras.Model
        The fitted network.
    history_ : dict
        Per-epoch training loss and accuracy, as Keras reports them.

    Notes
    -----
    TensorFlow is imported inside :meth:`fit` and :meth:`predict_proba` only;
    ``tf_keras`` (Keras 2, which the study used) is preferred when installed,
    otherwise ``tensorflow.keras``. Predictions are computed in float32.
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
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        if X.ndim != 2:
            raise errors.FairauditInputError(errors.EMB_NOT_2D.format(shape=X.shape))
        if len(y) != len(X):
            raise errors.FairauditInputError(
                errors.LENGTH_MISMATCH.format(name="y", got=len(y), n=len(X)))
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise errors.FairauditInputError(MLP_ONE_CLASS.format(value=classes[0].tolist()))
        keras = _keras()
        if self.random_state is not None:
            seed = int(check_random_state(self.random_state).randint(0, 2**31 - 1))
            keras.utils.set_random_seed(seed)
        model = keras.Sequential([
            keras.Input(shape=(X.shape[1],)),
            keras.layers.Dense(int(self.hidden_units), activation="relu"),
            keras.layers.Dense(len(classes), activation="softmax"),
        ])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=float(self.learning_rate)),
                      loss="categorical_crossentropy", metrics=["accuracy"])
        onehot = np.eye(len(classes), dtype=np.float32)[codes]
        history = model.fit(X, onehot, epochs=int(self.epochs), batch_size=int(self.batch_size),
                            shuffle=True, verbose=self.verbose)
        self.classes_ = classes
        self.n_features_in_ = int(X.shape[1])
        self.model_ = model
        self.history_ = {k: [float(v) for v in vals] for k, vals in history.history.items()}
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        check_is_fitted(self, "model_")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise errors.FairauditInputError(
                MLP_BAD_SHAPE.format(shape=X.shape, d=self.n_features_in_))
        proba = self.model_.predict(X, batch_size=max(int(self.batch_size), 256), verbose=0)
        return np.asarray(proba, dtype=np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of every sample."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


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
