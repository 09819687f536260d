"""Cron schedules that spawn goal runs; missed runs are coalesced into one."""

from __future__ import annotations

from agent_tui.core.goals import insert_recipe_goal, next_fire
from agent_tui.core.recipes import Recipe
from agent_tui.core.store import Tx


def run_due_schedules(tx: Tx, *, max_attempts: int = 3) -> list[int]:
    """Start one run of every schedule that is due and move it to its next time; return goal ids.

    However many times a schedule was missed (the machine was off), it runs once now.
    """
    started: list[int] = []
    due = tx.all("SELECT * FROM schedules WHERE enabled = 1 AND next_run_at <= ?", (tx.now,))
    for row in due:
        recipe = Recipe.model_validate_json(row["recipe"])
        missed = row["next_run_at"]
        goal_id = insert_recipe_goal(
            tx,
            recipe,
            priority=row["priority"],
            dry_run=bool(row["dry_run"]),
            schedule_id=row["id"],
            max_attempts=max_attempts,
        )
        upcoming = next_fire(row["cron"], tx.now)
        tx.execute(
            "UPDATE schedules SET last_run_at = ?, next_run_at = ?, last_goal_id = ?,"
            " last_status = 'running' WHERE id = ?",
            (tx.now, upcoming, goal_id, row["id"]),
        )
        tx.event(
            "schedule.fired",
            f"schedule '{row['title']}' started goal {goal_id}",
            goal_id=goal_id,
            schedule_id=row["id"],
            due_at=missed,
            next_run_at=upcoming,
        )
        started.append(goal_id)
    return started
