"""One approval in full: the whole command, diff or URL, scrollable, with the keys that decide it.

It decides nothing itself: it returns the name of the main screen's action the key stands for
(``approve``, ``always_allow``, ``reject``, ...), so every decision goes through one code path.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from agent_tui.core.store import Row
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.widgets.approvals import describe, keys_for, still_running

ACTION_KEYS = {"approve", "always_allow", "reject", "approve_goal"}
UNKNOWN_KEYS = {"run_again", "mark_done", "skip", "reject"}
STILL_RUNNING_KEYS = {"wait_for_it", "mark_done", "skip", "reject"}


class ApprovalScreen(SurvivesAway, ModalScreen[str | None]):
    """Returns the action to run on the approval, or ``None`` (escape)."""

    CSS_PATH = "approval.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "choose(None)", "Close", id="approval_close"),
        Binding("a", "choose('approve')", "Approve", id="approval_approve"),
        Binding("a", "choose('run_again')", "Run again", id="approval_run_again"),
        Binding("W", "choose('wait_for_it')", "Wait for it", id="approval_wait"),
        Binding("A", "choose('always_allow')", "Always allow", id="approval_always"),
        Binding("G", "choose('approve_goal')", "All of goal", id="approval_goal"),
        Binding("r", "choose('reject')", "Reject", id="approval_reject"),
        Binding("d", "choose('mark_done')", "Mark done", id="approval_mark_done"),
        Binding("s", "choose('skip')", "Skip", id="approval_skip"),
    ]

    def __init__(self, row: Row) -> None:
        super().__init__()
        self.row = row

    @property
    def unknown(self) -> bool:
        return bool(self.row["kind"] == "unknown")

    def compose(self) -> ComposeResult:
        keys = keys_for(self.row).replace(" · v: full view", "") + " · escape: back"
        with Vertical(id="approval-full"):
            with VerticalScroll(id="approval-full-scroll"):
                yield Static(describe(self.row), id="approval-full-detail")
            yield Static(Content.styled(keys, "bold"), id="approval-full-keys")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action != "choose" or parameters[0] is None:
            return True
        if still_running(self.row):
            return parameters[0] in STILL_RUNNING_KEYS
        return parameters[0] in (UNKNOWN_KEYS if self.unknown else ACTION_KEYS)

    def action_choose(self, action: str | None) -> None:
        self.dismiss(action)
