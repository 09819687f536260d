"""Cron schedules that spawn goal runs: missed runs coalesced into one, each run following its
recipe file, pause and resume, "run now", and a pause after a streak of failures.

A schedule added from a recipe file re-reads and re-validates that file at every run, so an edit
takes effect at the next run. A file that no longer loads skips the run: the schedule records
``skipped`` with the reason (``schedules`` shows it) and counts it as a failure. A schedule
without a file (none was given) runs the recipe stored when it was added.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from agent_tui.core.goals import insert_recipe_goal, next_fire
from agent_tui.core.recipes import Recipe, RecipeError, load_recipe
from agent_tui.core.store import Row, Store, Tx
from agent_tui.core.store import schedules as stored

Loaded = Recipe | str
"""A recipe file as read for a run: the recipe, or why it cannot be used."""


class ScheduleError(ValueError):
    """A schedule command that cannot be done; the message says why."""


def load(path: str) -> Loaded:
    """The recipe in ``path``, or the one-line reason it cannot be used."""
    try:
        return load_recipe(Path(path))
    except RecipeError as exc:
        return str(exc)


def recipes_due(store: Store) -> dict[int, Loaded]:
    """The recipe files of the schedules due now, read and validated (call off the event loop,
    before the transaction that fires them, so no file is read while the database is locked)."""
    rows = stored.files_due(store, store.clock())
    return {row["id"]: load(row["recipe_path"]) for row in rows}


def run_due_schedules(
    tx: Tx,
    *,
    max_attempts: int = 3,
    fresh: Mapping[int, Loaded] | None = None,
    pause_after: int = 0,
) -> list[int]:
    """Start one run of every schedule that is due and move it to its next time; return goal ids.

    However many times a schedule was missed (the machine was off), it runs once now. ``fresh``
    holds recipe files already read (:func:`recipes_due`); any other file is read here. With
    ``pause_after``, a schedule whose runs failed that many times in a row is paused first.
    """
    if pause_after:
        pause_failing(tx, pause_after)
    started: list[int] = []
    for row in stored.due(tx):
        upcoming = next_fire(row["cron"], tx.now)
        recipe = _recipe(row, fresh)
        if isinstance(recipe, str):
            _skip(tx, row, recipe, upcoming)
            continue
        goal_id = _start(tx, row, recipe, max_attempts)
        stored.set_next_run(tx, row["id"], upcoming)
        tx.event(
            "schedule.fired",
            f"schedule '{recipe.title}' started goal {goal_id}",
            goal_id=goal_id,
            schedule_id=row["id"],
            due_at=row["next_run_at"],
            next_run_at=upcoming,
        )
        started.append(goal_id)
    return started


def _recipe(row: Row, fresh: Mapping[int, Loaded] | None) -> Loaded:
    if row["recipe_path"] is None:
        return Recipe.model_validate_json(row["recipe"])
    if fresh is not None and row["id"] in fresh:
        return fresh[row["id"]]
    return load(row["recipe_path"])


def _start(tx: Tx, row: Row, recipe: Recipe, max_attempts: int) -> int:
    """Insert the run's goal and remember it (and the recipe as read) on the schedule."""
    path = Path(row["recipe_path"]) if row["recipe_path"] else None
    goal_id = insert_recipe_goal(
        tx,
        recipe,
        recipe_path=path,
        priority=row["priority"],
        dry_run=bool(row["dry_run"]),
        schedule_id=row["id"],
        max_attempts=max_attempts,
    )
    stored.record_run(tx, row["id"], recipe.title, recipe.model_dump_json(), goal_id)
    return goal_id


def _skip(tx: Tx, row: Row, why: str, upcoming: float) -> None:
    """The recipe file cannot be used: no run, a failure counted, the reason journaled."""
    stored.record_skip(tx, row["id"], upcoming)
    tx.event(
        "schedule.skipped",
        f"schedule {row['id']} '{row['title']}' skipped a run: {why}",
        schedule_id=row["id"],
        reason=why,
        next_run_at=upcoming,
    )


def pause_failing(tx: Tx, limit: int) -> int:
    """Pause every enabled schedule whose last ``limit`` runs or more failed in a row."""
    rows = stored.failing(tx, limit)
    for row in rows:
        stored.disable(tx, row["id"])
        tx.event(
            "schedule.paused",
            f"schedule {row['id']} '{row['title']}' paused after {row['failure_streak']} failed"
            f" runs in a row ([schedules] pause_after_failures = {limit});"
            f" `agent-tui schedules --resume {row['id']}` resumes it",
            schedule_id=row["id"],
            reason="failures",
        )
    return len(rows)


def _schedule(tx: Tx, schedule_id: int) -> Row:
    row = stored.schedule(tx, schedule_id)
    if row is None:
        raise ScheduleError(f"no schedule {schedule_id} (see `agent-tui schedules`)")
    return row


def pause(store: Store, schedule_id: int) -> None:
    """Stop a schedule firing until it is resumed (a run in progress goes on)."""
    with store.write() as tx:
        row = _schedule(tx, schedule_id)
        if not row["enabled"]:
            raise ScheduleError(f"schedule {schedule_id} is already paused")
        stored.disable(tx, schedule_id)
        tx.event(
            "schedule.paused",
            f"schedule {schedule_id} '{row['title']}' paused",
            schedule_id=schedule_id,
            reason="user",
        )


def resume(store: Store, schedule_id: int) -> float:
    """Fire a paused schedule again from its next time after now (runs missed while paused are
    not made up) with its failure streak cleared; return that time."""
    with store.write() as tx:
        row = _schedule(tx, schedule_id)
        if row["enabled"]:
            raise ScheduleError(f"schedule {schedule_id} is not paused")
        upcoming = next_fire(row["cron"], tx.now)
        stored.enable(tx, schedule_id, upcoming)
        tx.event(
            "schedule.resumed",
            f"schedule {schedule_id} '{row['title']}' resumed",
            schedule_id=schedule_id,
            next_run_at=upcoming,
        )
    return upcoming


def run_now(store: Store, schedule_id: int, *, max_attempts: int = 3) -> int:
    """Start a run of the schedule at once (paused or not), its next time unchanged; return the
    goal id. A recipe file that no longer loads is an error, and nothing runs."""
    with store.write() as tx:
        row = _schedule(tx, schedule_id)
    recipe = _recipe(row, None)
    if isinstance(recipe, str):
        raise ScheduleError(f"schedule {schedule_id}: {recipe}")
    with store.write() as tx:
        row = _schedule(tx, schedule_id)
        goal_id = _start(tx, row, recipe, max_attempts)
        tx.event(
            "schedule.fired",
            f"schedule '{recipe.title}' started goal {goal_id} (run now)",
            goal_id=goal_id,
            schedule_id=schedule_id,
        )
    return goal_id


def last_skip(store: Store, schedule_id: int) -> str | None:
    """Why the schedule's last run was skipped (its recipe file), if it was."""
    data = stored.last_skip(store, schedule_id)
    if data is None:
        return None
    reason = data.get("reason")
    return str(reason) if reason else None
