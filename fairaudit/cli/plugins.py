"""``fairaudit plugins``: the installed plugins and what each registers."""

from __future__ import annotations

import argparse


def cmd_plugins(args: argparse.Namespace) -> int:
    import json

    from fairaudit.plugins import plugin_info
    from fairaudit.common.text import table

    info = plugin_info()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = []
    for p in info:
        registers = "; ".join(f"{kind}: {', '.join(names)}" for kind, names in p["registers"].items()) or "-"
        rows.append([p["name"], p["distribution"] or "-", p["version"] or "-", ", ".join(p["hooks"]), registers])
    print(table(rows, ["plugin", "distribution", "version", "hooks", "registers"]))
    return 0
