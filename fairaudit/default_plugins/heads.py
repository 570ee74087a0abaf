"""Built-in classifier heads, registered through the same hook as any plugin's."""

from __future__ import annotations

from fairaudit.hookspecs import hookimpl


def _logistic():
    from fairaudit.heads import make_logistic

    return make_logistic()


def _mlp():
    from fairaudit.heads import make_mlp

    return make_mlp()


@hookimpl
def register_heads(register):
    register("logistic", _logistic,
             description="StandardScaler + scikit-learn LogisticRegression (fast default)")
    register("mlp", _mlp,
             description="the study's Keras head: Dense(2048, ReLU) -> Dense(k, softmax), Adam, 20 epochs, "
                         "batch 32 (needs the 'tensorflow' extra)")
