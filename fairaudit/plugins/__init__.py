"""Plugins (pluggy): the hook specifications (``hookspecs``), the registry that loads plugins and
resolves registered names (``manager``), and fairaudit's own registrations (``builtin``), which use
the same hooks as any third-party plugin.

May import: ``fairaudit.common``. The built-in registrations are plugins like any other: they import
the stages they register lazily, and the registry loads them by module name.
"""

from fairaudit.common.lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "hookimpl": "hookspecs",
    "hookspec": "hookspecs",
    "plugin_manager": "manager",
    "register_plugin": "manager",
    "unregister_plugin": "manager",
    "registry": "manager",
    "available": "manager",
    "get": "manager",
    "plugin_info": "manager",
    "Registration": "manager",
    "KINDS": "manager",
    "ENTRY_POINT_GROUP": "manager",
    "ENV_VAR": "manager",
    "DEFAULT_PLUGINS": "manager",
    "UNKNOWN_NAME": "manager",
    "DUPLICATE_NAME": "manager",
    "BAD_REGISTRATION": "manager",
})
