"""Built-in demographic split strategies, registered through the same hook as any plugin's."""

from __future__ import annotations

from fairaudit.plugins.hookspecs import hookimpl


def _factory(name):
    def build(**options):
        from fairaudit.classification import SPLITS

        return SPLITS[name](**options)

    build.__name__ = name
    return build


@hookimpl
def register_splits(register):
    register("per-group", _factory("per-group"), description="one model per group, trained on that group only")
    register("pooled", _factory("pooled"), description="one model on all groups, balanced across groups")
    register("leave-one-group-out", _factory("leave-one-group-out"),
             description="one model per group, trained on all other groups")
    register("mixture", _factory("mixture"),
             description="proportions per group and a total size, e.g. mixture:B=0.6,A=0.3,N=0.1")
