"""The one-line header: model, executor state, dry run, today's spend and the approvals queue.

The approvals count and the spend sit at the right edge and are never cut: on a narrow terminal
the left part (the model's name first) gives way instead.
"""

from __future__ import annotations

from textual.content import Content
from textual.events import Resize
from textual.widgets import Static

from agent_tui.core.store.panes import Overview

Part = str | tuple[str, str]
SEP = (" · ", "$text-muted")


class StatusLine(Static):
    """``agent-tui · model · executor ● running · dry-run off      today $0.42 · approvals 3``.

    ``sandbox`` is said only when commands do not run in one (``no sandbox: commands ask``).
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._left = Content("")
        self._right = Content("")

    def show(
        self,
        *,
        model: str | None,
        executor: bool,
        overview: Overview,
        sandbox: str | None = None,
        waiting: str | None = None,
    ) -> None:
        """Render the line from the current state; ``waiting`` says this process waits for the
        database (never cut, like the approvals count)."""
        left: list[Part] = [("agent-tui", "bold"), SEP]
        left.append((model, "") if model else ("no model", "$text-muted"))
        left += [SEP, "executor "]
        if not executor:
            left.append(("• viewer", "$text-muted"))
            if overview.executors:
                left.append((f" · {overview.executors} running elsewhere", "$text-success"))
            else:
                left.append((" · none running: start `agent-tui worker`", "$text-warning"))
            if overview.paused:
                left.append((" (all work paused)", "$text-warning"))
        elif overview.paused:
            left.append(("‖ paused", "$text-warning"))
        else:
            left.append(("● running", "$text-success"))
        left += [SEP, "dry-run "]
        left.append(("on", "$text-warning bold") if overview.dry_run else "off")
        right: list[Part] = []
        if waiting:
            right += [(waiting, "$text-warning bold"), SEP]
        if sandbox:  # a safety warning is never cut, like the approvals count
            right += [(sandbox, "$text-warning bold"), SEP]
        if overview.today_calls:
            spent = "?" if overview.today_usd is None else f"${overview.today_usd:.2f}"
            right += ["today ", (spent, "bold"), SEP]
        right.append("approvals ")
        if overview.approvals:
            right.append((str(overview.approvals), "$text-warning bold"))
        else:
            right.append("0")
        self._left = Content.assemble(*left)
        self._right = Content.assemble(*right)
        self._render_line()

    def on_resize(self, event: Resize) -> None:
        self._render_line()

    def _render_line(self) -> None:
        width = self.content_region.width or 80
        room = max(0, width - self._right.cell_length - 1)
        left = self._left
        if left.cell_length > room:
            left = left.truncate(room, ellipsis=True)
        gap = " " * max(1, width - left.cell_length - self._right.cell_length)
        self.update(left + gap + self._right)
