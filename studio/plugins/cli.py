"""`studio plugins list | install PATH_OR_WHEEL | enable NAME | disable NAME | remove NAME`.

studio/cli.py wires it in with `add_subcommand(commands)` and `COMMANDS["plugins"] = run`. Torch is never
imported: the listing reads manifests only.
"""

from __future__ import annotations

import argparse
import json
import sys

from studio.plugins.manifest import KINDS
from studio.plugins.registry import PluginInfo, PluginRegistry, default_registry


def add_subcommand(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("plugins", help="list, install, enable, disable or remove sampler and guidance plugins")
    actions = parser.add_subparsers(dest="plugins_command", metavar="ACTION")
    listing = actions.add_parser("list", help="every plugin with its version, origin and status")
    listing.add_argument("--kind", choices=KINDS)
    listing.add_argument("--json", action="store_true", help="print the manifests as JSON")
    install = actions.add_parser("install", help="install a plugin from a wheel or a project folder")
    install.add_argument("source", metavar="PATH_OR_WHEEL")
    for action, text in (("enable", "use the plugin again"), ("disable", "stop offering the plugin"),
                         ("remove", "delete a plugin installed with `studio plugins install`")):
        sub = actions.add_parser(action, help=text)
        sub.add_argument("name", help="the plugin's name (or kind:name, or its distribution's name)")
    return parser


def _table(infos: list[PluginInfo]) -> str:
    rows = [("NAME", "KIND", "VERSION", "ORIGIN", "STATUS", "DESCRIPTION")]
    for info in infos:
        origin = info.origin if not info.distribution else f"{info.origin} ({info.distribution})"
        rows.append((info.name, info.kind, info.version, origin, info.status, info.description))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row[:5], widths)) + "  " + row[5] for row in rows)


def run(args, registry: PluginRegistry | None = None) -> int:
    """Handle `studio plugins …`; errors are StudioErrors, which studio/cli.py prints as one line."""
    registry = registry or default_registry()
    action = getattr(args, "plugins_command", None) or "list"
    if action == "list":
        infos = registry.plugins(getattr(args, "kind", None))
        if getattr(args, "json", False):
            print(json.dumps([i.to_dict() for i in infos], indent=2))
        else:
            print(_table(infos))
        return 0
    if action == "install":
        from studio.plugins.manage import install

        result = install(args.source, registry)
        names = ", ".join(f"{i.kind} '{i.name}'" for i in result.plugins)
        print(f"installed {result.distribution} {result.version}: {names}")
        for notice in result.notices:
            print(f"studio: note: {notice}", file=sys.stderr)
        for info in result.plugins:
            if info.problem:
                print(f"studio: note: {info.kind} '{info.name}' cannot be used: {info.problem}", file=sys.stderr)
        return 0
    if action == "remove":
        from studio.plugins.manage import remove

        print(f"removed {remove(args.name, registry)}")
        return 0
    info = registry.enable(args.name) if action == "enable" else registry.disable(args.name)
    print(f"{info.kind} '{info.name}': {info.status}")
    return 0
