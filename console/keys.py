"""The commands a screen offers, each once: what the help screen and the palette list.

A command is an action with the keys that run it and its binding id (what keymap.toml
remaps). Several bindings of one action (Textual's own ctrl+q and our q for quit) make
one command, named and identified by ours; Textual's bindings that are no command of
ours (copy text) and a table's arrows are left out. The overview's pane keys are
listed with their pane.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.app import App
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget


@dataclass
class Command:
    target: DOMNode  # the node the action runs on
    action: str  # its name there, without a namespace
    description: str
    keys: list[str] = field(default_factory=list)  # as displayed: `q`, `ctrl+q`
    id: str = ""  # the binding id keymap.toml remaps
    where: str = ""  # the pane whose key it is, on screens with several

    def run(self) -> object:
        return self.target.app.run_action(self.action, self.target)


def commands(app: App[Any], screen: Screen[Any], panes: bool = False) -> list[Command]:
    """The commands `screen` offers now (its focused pane's with it), or with `panes`,
    those of every pane on it; then the app's. Hidden ones (read-only, a role that may
    not) are left out."""
    nodes: list[tuple[DOMNode, str]] = []
    if panes:
        nodes += [(pane, str(pane.border_title or "")) for pane in screen.query("Pane")]
    elif screen.focused is not None:
        nodes += [(n, "") for n in screen.focused.ancestors_with_self if n is not screen]
    nodes += [(screen, ""), (app, "")]
    found: dict[tuple[int, str], Command] = {}
    for node, where in nodes:
        for _key, binding in node._bindings:  # noqa: SLF001 - the bindings it declares
            if not binding.description or (
                isinstance(node, Widget) and node is not screen and not binding.id
            ):
                continue  # a table's own arrows and enter: not commands
            target, _, name = _resolve(node, screen, app, binding.action)
            if target.check_action(name, ()) is False:
                continue
            command = found.setdefault(
                (id(target), name), Command(target, name, binding.description, where=where)
            )
            key = app.get_key_display(binding)
            if key not in command.keys:
                command.keys.append(key)
            if binding.id and not command.id:
                command.id = binding.id
                command.description = binding.description
    return [command for command in found.values() if command.id]


def _resolve(
    node: DOMNode, screen: Screen[Any], app: App[Any], action: str
) -> tuple[DOMNode, str, str]:
    """Where a binding's action runs: `screen.approve` on the screen, `app.x` on the app."""
    namespace, dot, name = action.rpartition(".")
    if not dot:
        return node, "", action
    return (screen if namespace == "screen" else app if namespace == "app" else node), dot, name
