"""Command-palette entries for the keys that apply right now, so every action has both."""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen

SKIP = frozenset({"command_palette", "quit"})
"""Actions the palette already offers on its own."""


def binding_commands(app: App[Any], screen: Screen[Any]) -> Iterable[SystemCommand]:
    """One command per enabled binding with a tooltip, titled by it, with its key.

    Bindings kept out of the footer to save room still get a command when they have a tooltip.
    """
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not active.enabled or not binding.description:
            continue
        if not binding.show and not binding.tooltip:
            continue
        if binding.action.rpartition(".")[2] in SKIP:
            continue
        title = binding.tooltip or binding.description
        shown = binding.key_display or app.get_key_display(binding) or key
        yield SystemCommand(
            title,
            f"key {shown}",
            partial(app.run_action, binding.action, active.node),
        )
