"""The first-run welcome: where the data lives, which model will plan, and example recipes to start.

Shown over the main screen while the database holds no goal. The model is detected as the executor
does it (config, provider keys, then a local Ollama), in a thread because the Ollama probe is a
network call. A digit or enter starts an example recipe; escape closes the dialog.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent_tui import bundled, paths
from agent_tui.bundled import Example
from agent_tui.bundled import list_examples as find_examples
from agent_tui.config import Settings
from agent_tui.core import model_probe
from agent_tui.core.llm import ModelChoice, choose_model
from agent_tui.core.sandbox.wrap import status_for
from agent_tui.core.store import Store
from agent_tui.goal_requests import GoalRequest, RequestError, Submitted, submit
from agent_tui.ui.away import SurvivesAway
from agent_tui.ui.worker_errors import ReportsWorkerErrors
from agent_tui.ui.writes import Deferred, write_from

__all__ = ["Example", "WelcomeScreen", "find_examples", "shown_path"]


def shown_path(path: Path) -> str:
    """``path`` relative to the current directory when inside it, else with ``~`` for home."""
    try:
        return str(path.relative_to(Path.cwd())) or "."
    except ValueError:
        pass
    home = Path.home()
    try:
        return "~/" + str(path.relative_to(home))
    except ValueError:
        return str(path)


def _model_line(choice: ModelChoice | None) -> Content:
    if choice is None:
        return Content.styled("looking for one…", "$text-muted")
    if choice.model:
        return Content.assemble((choice.model, "bold"), (f"  ({choice.why})", "$text-muted"))
    how = choice.why.removeprefix("no model: ")
    return Content.assemble(
        ("none", "bold $text-warning"),
        " — recipes run without one; goals written in words need one. To configure one: ",
        how,
        ".",
    )


class WelcomeScreen(SurvivesAway, ReportsWorkerErrors, ModalScreen[int | None]):
    """Returns the id of the goal started from an example, or ``None`` when closed."""

    CSS_PATH = "welcome.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="welcome_close"),
        Binding("n", "new_goal", "New goal", id="welcome_new_goal"),
        *(
            Binding(str(n), f"start({n - 1})", f"Start example {n}", show=False, id=f"example_{n}")
            for n in range(1, 10)
        ),
    ]

    def __init__(self, store: Store, settings: Settings, examples_dir: Path | None = None):
        super().__init__(id="welcome")
        self.store = store
        self.settings = settings
        self.examples_dir = examples_dir or bundled.examples_dir()
        self.examples = find_examples(self.examples_dir)
        self.model: ModelChoice | None = None
        self.wants_new_goal = False
        """Set when closed with ``n``: the main screen opens the new-goal dialog next."""

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome-box"):
            yield Static("Welcome to agent-tui", id="welcome-title")
            body = VerticalScroll(id="welcome-body")
            body.can_focus = False  # the examples keep the focus; the mouse wheel still scrolls
            with body:
                yield from self._about()
            yield Static(self._examples_heading(), id="welcome-examples-heading")
            if self.examples:
                yield OptionList(
                    *(self._option(n, e) for n, e in enumerate(self.examples, 1)),
                    id="welcome-examples",
                )
            yield Static(self._keys(), id="welcome-keys")

    def _about(self) -> ComposeResult:
        """What agent-tui is, where its files are, the model and the sandbox: scrolls if tall."""
        yield Static(
            "Goals become steps that run with real tools in the background; risky actions "
            "wait in the approvals queue for you.",
            id="welcome-intro",
        )
        yield Static(self._places(), id="welcome-places")
        yield Static(Content.assemble(("Model     ", "bold"), _model_line(None)), id="model")
        sandbox = status_for(self.settings)
        if not sandbox.active:
            yield Static(
                Content.assemble(("Sandbox   ", "bold"), (sandbox.sentence(), "$text-warning")),
                id="welcome-sandbox",
            )

    def on_mount(self) -> None:
        if self.examples:
            self.query_one("#welcome-examples", OptionList).focus()
        self.detect_model()

    @work(thread=True, exit_on_error=False, group="welcome-model")
    def detect_model(self) -> None:
        llm = self.settings.llm
        choice = choose_model(self.settings.model, llm.api_base, ollama_url=llm.ollama_url)
        self.app.call_from_thread(self.show_model, choice)

    def show_model(self, choice: ModelChoice) -> None:
        self.model = choice
        self.query_one("#model", Static).update(
            Content.assemble(("Model     ", "bold"), _model_line(choice))
        )
        if choice.model and choice.api_base:
            self.check_server(choice)

    @work(exclusive=True, exit_on_error=False, group="welcome-probe")
    async def check_server(self, choice: ModelChoice) -> None:
        """A model server (``api_base``) is asked whether it answers: a hosted provider is not
        (that would spend tokens; ``agent-tui doctor`` makes a real call)."""
        probe = await model_probe.reachable(choice.api_base, timeout=3.0)
        if probe.ok:
            note = Content.styled(
                f"  {probe.detail} in {probe.seconds * 1000:.0f} ms", "$text-success"
            )
        else:
            note = Content.assemble(
                (f"  {probe.detail}", "$text-warning"),
                f" — start the server, or fix [llm] api_base in {shown_path(paths.config_file())}",
            )
        self.query_one("#model", Static).update(
            Content.assemble(("Model     ", "bold"), _model_line(choice), note)
        )

    def _places(self) -> Content:
        config = paths.config_file()
        rows = [
            ("Database  ", shown_path(paths.db_path()), ""),
            ("Outputs   ", shown_path(paths.outputs_dir()) + os.sep, "  full tool output logs"),
            ("Workspaces", shown_path(paths.workspaces_dir()) + os.sep, "  where tools work"),
            ("Config    ", shown_path(config), "" if config.exists() else "  (not created yet)"),
            ("Themes    ", shown_path(paths.themes_dir()) + os.sep, "  *.toml, T switches"),
        ]
        lines = [
            Content.assemble((label, "bold"), "  ", where, (note, "$text-muted"))
            for label, where, note in rows
        ]
        return Content("\n").join(lines)

    def _examples_heading(self) -> Content:
        where = shown_path(self.examples_dir) + os.sep
        if not self.examples:
            return Content.assemble(
                ("Examples  ", "bold"),
                f"none found in {where} (this installation lacks its package data). "
                "n adds a goal from any recipe file.",
            )
        return Content.assemble(
            ("Examples  ", "bold"),
            "recipes that ship with agent-tui — a digit or enter starts one "
            "(`agent-tui examples` lists them)",
        )

    @staticmethod
    def _option(number: int, example: Example) -> Option:
        recipe = example.recipe
        about = recipe.description or f"{len(recipe.steps)} steps"
        prompt = Content.assemble(
            (f"{number} ", "bold $text-accent"),
            (recipe.title, "bold"),
            (f"  {about}", "$text-muted"),
        )
        return Option(prompt, id=str(number - 1))

    def _keys(self) -> Content:
        parts = ["enter or 1–9: start an example", "n: new goal", "escape: close"]
        if not self.examples:
            parts = parts[1:]
        return Content.styled(" · ".join(parts), "$text-muted")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.action_start(int(event.option.id))

    def action_start(self, index: int) -> None:
        """Add the goal of example ``index`` and close, returning its id."""
        if not 0 <= index < len(self.examples):
            return
        example = self.examples[index]
        request = GoalRequest(recipe=str(example.path), example=True)
        app = self.app

        def started(done: Submitted) -> None:
            app.notify(f"started “{done.title}” (goal {done.goal_id})", markup=False)

        try:
            result = write_from(
                self,
                self.store,
                submit,
                request,
                what="start the example",
                then=started,
                max_attempts=self.settings.retry.max_attempts,
            )
        except RequestError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        if isinstance(result, Deferred):
            self.dismiss(None)
            return
        started(result)
        self.dismiss(result.goal_id)

    def action_new_goal(self) -> None:
        self.wants_new_goal = True
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
