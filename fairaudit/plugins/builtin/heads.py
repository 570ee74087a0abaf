"""Built-in classifier heads, registered through the same hook as any plugin's."""

from __future__ import annotations

from fairaudit.plugins.hookspecs import hookimpl


def _built_in(name):
    def build(**options):
        from fairaudit.classification import HEADS

        return HEADS[name](**options)

    build.__name__ = name
    return build


@hookimpl
def register_heads(register):
    register("logistic", _built_in("logistic"),
             description="StandardScaler + scikit-learn LogisticRegression (fast default)")
    register("mlp", _built_in("mlp"),
             description="the study's Keras head: Dense(2048, ReLU) -> Dense(k, softmax), Adam, 20 epochs, "
                         "batch 32 (needs the 'tensorflow' extra)")
