"""Plugin discovery and the registry: names, duplicates, misspelled hooks, the env var, the docs."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pluggy
import pytest

from fairaudit import FairauditInputError, hookimpl
from fairaudit import plugins


def test_built_ins_register_through_the_hooks():
    assert {"logistic", "mlp"} <= set(plugins.available("head"))
    assert {"per-group", "pooled", "leave-one-group-out", "mixture"} <= set(plugins.available("split"))
    assert {"folder", "csv", "rfw"} <= set(plugins.available("dataset"))
    assert {"dlib-resnet", "dlib-resnet-haar"} <= set(plugins.available("extractor"))
    assert plugins.get("head", "logistic").plugin == "fairaudit.plugins.builtin.heads"


def test_unknown_name_lists_the_available_names():
    with pytest.raises(FairauditInputError) as info:
        plugins.get("extractor", "arcface", argument="extractor")
    assert str(info.value) == plugins.UNKNOWN_NAME.format(
        argument="extractor", value="arcface", kind="extractor", available=", ".join(plugins.available("extractor")))


def test_two_plugins_registering_one_name_is_an_error_naming_both():
    class Clash:
        @hookimpl
        def register_datasets(self, register):
            register("folder", lambda root: None)

    name = plugins.register_plugin(Clash(), name="clashing-plugin")
    try:
        with pytest.raises(FairauditInputError) as info:
            plugins.registry("dataset")
        msg = str(info.value)
        assert "'fairaudit.plugins.builtin.datasets'" in msg and "'clashing-plugin'" in msg
    finally:
        plugins.unregister_plugin(name)
    assert "folder" in plugins.available("dataset")


def test_a_misspelled_hook_fails_loudly():
    class Typo:
        @hookimpl
        def register_extractor(self, register):  # missing the final "s"
            pass

    with pytest.raises(pluggy.PluginValidationError):
        plugins.register_plugin(Typo(), name="typo-plugin")
    plugins.plugin_manager().unregister(name="typo-plugin")


def test_registration_must_give_a_name_and_a_callable():
    class Bad:
        @hookimpl
        def register_heads(self, register):
            register("broken", 42)

    name = plugins.register_plugin(Bad(), name="bad-plugin")
    try:
        with pytest.raises(FairauditInputError, match="not callable"):
            plugins.registry("head")
    finally:
        plugins.unregister_plugin(name)


def _plugins_json(env):
    proc = subprocess.run([sys.executable, "-m", "fairaudit.cli", "plugins", "--json"], capture_output=True,
                          text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return {p["name"]: p for p in json.loads(proc.stdout)}


def test_env_var_limits_which_plugins_load():
    env = dict(os.environ)
    env[plugins.ENV_VAR] = ""
    only_builtin = _plugins_json(env)
    assert all(p["builtin"] for p in only_builtin.values())
    env.pop(plugins.ENV_VAR)
    everything = _plugins_json(env)
    assert set(only_builtin) <= set(everything)


def test_plugins_command_reports_versions_hooks_and_names():
    info = _plugins_json(dict(os.environ))
    heads = info["fairaudit.plugins.builtin.heads"]
    assert heads["version"] and heads["hooks"] == ["register_heads"]
    assert heads["registers"] == {"head": ["logistic", "mlp"]}


def test_registration_imports_no_heavy_library():
    code = ("import sys\nfrom fairaudit import plugins\n"
            "for kind in plugins.KINDS: plugins.registry(kind)\n"
            "print(','.join(m for m in ('tensorflow', 'cv2', 'dlib', 'tf_keras') if m in sys.modules))")
    env = dict(os.environ)
    env[plugins.ENV_VAR] = ""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert proc.stdout.strip() == ""
