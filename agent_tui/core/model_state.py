"""The model an executor calls: which one, what was learned of its context window, and when an
unreachable server is asked again.

One per executor; agent and plan steps reach it through the executor's ``models``.
"""

from __future__ import annotations

from datetime import datetime

from agent_tui.config import Settings
from agent_tui.core import context, llm, model_calls, model_probe
from agent_tui.core.store import Store, lifecycle, models
from agent_tui.core.store import goals as store_goals


class ModelState:
    """The chosen model (``choice``), its endpoint limits, its window, and the probe's backoff."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.choice = (
            llm.ModelChoice(settings.model, "configured", settings.llm.api_base)
            if settings.model
            else llm.ModelChoice(None, "not detected yet")
        )
        self.endpoints = model_calls.Endpoints(settings.llm.max_concurrent)
        self._windows: dict[str | None, int | None] = {}
        self._probe_delay: float | None = None

    def context_window(self) -> int | None:
        """The current model's context window in tokens (``None``: unknown), looked up once."""
        model = self.choice.model
        configured = self.settings.llm.context_window
        if model not in self._windows:
            if not configured and not llm.litellm_loaded():
                return None  # litellm's map is read once it is loaded (by the first call)
            self._windows[model] = context.window_of(model, configured)
        return self._windows[model]

    def learn_window(self, refused: int) -> None:
        """A prompt of ``refused`` tokens overflowed: take the window to be below that."""
        known = self.context_window()
        if known is None or known >= refused:
            self._windows[self.choice.model] = max(256, refused * 3 // 4)

    def probe_delay(self) -> float:
        """Seconds until the next check of an unreachable model server: short at first, then
        doubling up to a minute; a successful check starts over."""
        first = max(self.settings.retry.base_delay, min(5.0, self.settings.llm.retry_window / 8))
        delay = first if self._probe_delay is None else min(60.0, self._probe_delay * 2)
        self._probe_delay = delay
        return delay

    async def check_unreachable(self, store: Store) -> None:
        """Goals waiting for an unreachable model whose check is due: ask the server; resume
        them if it answers, else set the next check."""
        now = store.clock()
        rows = models.unreachable_due(store, now)
        if not rows:
            return
        probe = await model_probe.reachable(self.choice.api_base)
        with store.write() as tx:
            if probe.ok:
                self._probe_delay = None
            else:
                resume_at = tx.now + self.probe_delay()
            for row in rows:
                current = store_goals.goal(tx, row["id"])
                if current is None or current["wait_reason"] != "model unreachable":
                    continue
                if probe.ok:
                    lifecycle.resume_goal(tx, row, f"the model answers again: {probe.detail}")
                    continue
                when = datetime.fromtimestamp(resume_at).strftime("%H:%M:%S")
                head = (row["status_message"] or "").split("; next check at")[0]
                text = f"{head}; next check at {when}"
                models.set_next_check(tx, row["id"], resume_at, text)
                tx.event(
                    "goal.waiting",
                    f"still no answer: {probe.detail}; next check at {when}",
                    goal_id=row["id"],
                    reason="model unreachable",
                    resume_at=resume_at,
                )
