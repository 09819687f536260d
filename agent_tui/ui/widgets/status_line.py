"""The one-line header: model, executor state, dry run and the length of the approvals queue."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from agent_tui.ui.queries import Overview

Part = str | tuple[str, str]


class StatusLine(Static):
    """``agent-tui · model · executor ● running · dry-run off · approvals 3``."""

    def show(self, *, model: str | None, executor: bool, overview: Overview) -> None:
        """Render the line from the current state."""
        sep = (" · ", "$text-muted")
        parts: list[Part] = [("agent-tui", "bold"), sep]
        parts.append((model, "") if model else ("no model", "$text-muted"))
        parts += [sep, "executor "]
        if not executor:
            parts.append(("○ viewer", "$text-muted"))
            if overview.paused:
                parts.append((" (all work paused)", "$text-warning"))
        elif overview.paused:
            parts.append(("‖ paused", "$text-warning"))
        else:
            parts.append(("● running", "$text-success"))
        parts += [sep, "dry-run "]
        parts.append(("on", "$text-warning bold") if overview.dry_run else "off")
        parts += [sep, "approvals "]
        if overview.approvals:
            parts.append((str(overview.approvals), "$text-warning bold"))
        else:
            parts.append("0")
        self.update(Content.assemble(*parts))
