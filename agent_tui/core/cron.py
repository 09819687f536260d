"""Five-field cron expressions with cron's own weekday numbering, on APScheduler's ``CronTrigger``.

APScheduler 3 counts weekdays from Monday = 0, cron from Sunday = 0 (7 is Sunday too), so the
weekday field is translated into names before the trigger sees it.
"""

from __future__ import annotations

from datetime import datetime

from apscheduler.triggers.cron import CronTrigger

NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class CronError(ValueError):
    """An expression that is not valid five-field cron, or that never fires."""


def _day(token: str, expr: str) -> int:
    token = token.strip().lower()
    if token[:3] in NAMES and token.isalpha():
        return NAMES.index(token[:3])
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token) % 7
    raise CronError(f"cron expression '{expr}': bad weekday '{token}' (use 0-7 or sun-sat)")


def _weekdays(field: str, expr: str) -> str:
    if field == "*":
        return "*"
    days: set[int] = set()
    for item in field.split(","):
        base, _, step_text = item.partition("/")
        step = 1
        if step_text:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"cron expression '{expr}': bad step '/{step_text}'")
            step = int(step_text)
        if base == "*":
            first, last = 0, 6
        elif "-" in base:
            lo, hi = base.split("-", 1)
            first, last = _day(lo, expr), _day(hi, expr)
            if hi.strip() == "7":
                last = 7
            if last < first:
                raise CronError(f"cron expression '{expr}': weekday range '{base}' runs backwards")
        else:
            first = last = _day(base, expr)
            if step_text:
                last = 6
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(NAMES[d] for d in sorted(days))


def trigger(expr: str) -> CronTrigger:
    """The trigger for a five-field cron expression (minute hour day month weekday)."""
    fields = expr.split()
    if len(fields) != 5:
        raise CronError(f"cron expression '{expr}' needs 5 fields (minute hour day month weekday)")
    fields[4] = _weekdays(fields[4], expr)
    try:
        return CronTrigger.from_crontab(" ".join(fields))
    except ValueError as exc:
        raise CronError(f"cron expression '{expr}': {exc}") from None


def validate(expr: str) -> None:
    """Raise :class:`CronError` unless ``expr`` is valid and fires at least once."""
    if trigger(expr).get_next_fire_time(None, datetime.now().astimezone()) is None:
        raise CronError(f"cron expression '{expr}' never fires")


def next_fire(expr: str, after: float) -> float:
    """The first time strictly after ``after`` (epoch seconds) that ``expr`` fires, local time."""
    cron = trigger(expr)
    start = datetime.fromtimestamp(int(after) + 1).astimezone()
    fire = cron.get_next_fire_time(None, start)
    if fire is None:
        raise CronError(f"cron expression '{expr}' never fires")
    return float(fire.timestamp())
