"""Finding plugins and resolving registered names.

Plugins are found through the entry-point group ``fairaudit``. The built-ins
register through the same hooks from ``fairaudit.plugins.builtin``. Set
``FAIRAUDIT_LOAD_PLUGINS`` to a comma-separated list of distribution (or
entry-point) names to load only those; set it to an empty string to load none
but the built-ins.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable

import pluggy

from fairaudit.plugins import hookspecs
from fairaudit.common.errors import FairauditInputError

ENTRY_POINT_GROUP = "fairaudit"
ENV_VAR = "FAIRAUDIT_LOAD_PLUGINS"
DEFAULT_PLUGINS = (
    "fairaudit.plugins.builtin.heads",
    "fairaudit.plugins.builtin.splits",
    "fairaudit.plugins.builtin.datasets",
    "fairaudit.plugins.builtin.extractors",
    "fairaudit.plugins.builtin.quality",
)
#: hook name of every kind of registered thing
KINDS = {
    "extractor": "register_extractors",
    "head": "register_heads",
    "split": "register_splits",
    "dataset": "register_datasets",
    "quality": "register_quality",
}

UNKNOWN_NAME = (
    "{argument}={value!r} is not a registered {kind}; available: {available}. Fix: pass one of "
    "these names (or an instance), or install the plugin that provides it (see 'fairaudit plugins')."
)
DUPLICATE_NAME = (
    "two plugins register the {kind} {name!r}: {first!r} and {second!r}. Fix: uninstall one of them, "
    "or limit the plugins loaded with {env}=..."
)
BAD_REGISTRATION = (
    "plugin {plugin!r} registered the {kind} {name!r} with {what}. Fix: register(name: str, factory: "
    "callable, description=...)."
)


@dataclass(frozen=True)
class Registration:
    """One registered thing: its kind, name, factory, and the plugin that registered it."""

    kind: str
    name: str
    factory: Callable[..., Any]
    plugin: str
    description: str = ""

    def build(self, **options: Any) -> Any:
        return self.factory(**options)


_pm: pluggy.PluginManager | None = None
_registries: dict[str, dict[str, Registration]] = {}
_distributions: dict[str, metadata.Distribution] = {}


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    wanted = os.environ.get(ENV_VAR)
    allow = None if wanted is None else {w.strip() for w in wanted.split(",") if w.strip()}
    for dist in metadata.distributions():
        for ep in dist.entry_points:
            if ep.group != ENTRY_POINT_GROUP:
                continue
            dist_name = dist.metadata["Name"]
            if allow is not None and dist_name not in allow and ep.name not in allow:
                continue
            if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
                continue
            pm.register(ep.load(), name=ep.name)
            _distributions[ep.name] = dist


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, created and loaded on first use."""
    global _pm
    if _pm is None:
        pm = pluggy.PluginManager("fairaudit")
        pm.add_hookspecs(hookspecs)
        for module_name in DEFAULT_PLUGINS:
            pm.register(importlib.import_module(module_name), name=module_name)
        _load_entry_points(pm)
        pm.check_pending()  # a misspelled hook implementation fails here, loudly
        _pm = pm
    return _pm


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin object at run time (tests, notebooks). Returns its name."""
    pm = plugin_manager()
    registered = pm.register(plugin, name=name)
    pm.check_pending()
    _registries.clear()
    return registered


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    pm = plugin_manager()
    pm.unregister(name=name)
    _registries.clear()


def registry(kind: str) -> dict[str, Registration]:
    """Every registered thing of one kind, by name."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    if kind in _registries:
        return _registries[kind]
    pm = plugin_manager()
    found: dict[str, Registration] = {}
    hook = getattr(pm.hook, KINDS[kind])
    for impl in hook.get_hookimpls():
        plugin_name = impl.plugin_name

        def register(name: str, factory: Callable[..., Any], *, description: str = "",
                     _plugin: str = plugin_name) -> None:
            if not isinstance(name, str) or not name:
                raise FairauditInputError(BAD_REGISTRATION.format(
                    plugin=_plugin, kind=kind, name=name, what="a name that is not a non-empty string"))
            if not callable(factory):
                raise FairauditInputError(BAD_REGISTRATION.format(
                    plugin=_plugin, kind=kind, name=name, what=f"a factory that is not callable ({factory!r})"))
            if name in found:
                raise FairauditInputError(DUPLICATE_NAME.format(
                    kind=kind, name=name, first=found[name].plugin, second=_plugin, env=ENV_VAR))
            found[name] = Registration(kind, name, factory, _plugin, description)

        impl.function(register=register)
    _registries[kind] = dict(sorted(found.items()))
    return _registries[kind]


def available(kind: str) -> list[str]:
    return list(registry(kind))


def get(kind: str, name: str, *, argument: str | None = None) -> Registration:
    """The registration of ``name``; an unknown name lists the available ones."""
    reg = registry(kind)
    if not isinstance(name, str) or name not in reg:
        raise FairauditInputError(UNKNOWN_NAME.format(
            argument=argument or kind, value=name, kind=kind, available=", ".join(reg) or "none"))
    return reg[name]


def plugin_info() -> list[dict[str, Any]]:
    """Installed plugins: name, distribution version, hooks implemented and names registered."""
    pm = plugin_manager()
    out = []
    for name, plugin in sorted(pm.list_name_plugin(), key=lambda x: x[0]):
        hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
        dist = _distributions.get(name)
        if dist is not None:
            version = dist.version
            distribution = dist.metadata["Name"]
        elif name.startswith("fairaudit."):
            version, distribution = metadata.version("fairaudit"), "fairaudit"
        else:
            version, distribution = None, None
        registers = {
            kind: [r.name for r in registry(kind).values() if r.plugin == name]
            for kind in KINDS
        }
        out.append({
            "name": name, "distribution": distribution, "version": version, "hooks": hooks,
            "registers": {k: v for k, v in registers.items() if v},
            "builtin": name in DEFAULT_PLUGINS,
        })
    return out
