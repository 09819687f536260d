"""Five-field cron with cron's own weekday numbering (Sunday is 0 and 7), and the errors that
name what is wrong."""

from __future__ import annotations

import time
from datetime import datetime

import pytest

from agent_tui.core.cron import CronError, next_fire, validate

# A Wednesday, 10:30 local time.
WEDNESDAY = datetime(2026, 3, 4, 10, 30).timestamp()


def weekdays_fired(expr: str, days: int = 14) -> list[str]:
    """The weekday names ``expr`` fires on over ``days`` days from WEDNESDAY, in order."""
    fired: list[str] = []
    after = WEDNESDAY
    while True:
        after = next_fire(expr, after)
        if after > WEDNESDAY + days * 86400:
            return fired
        fired.append(time.strftime("%a", time.localtime(after)).lower())


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("0", ["sun"]),
        ("7", ["sun"]),  # 7 is Sunday too
        ("sun", ["sun"]),
        ("Monday", ["mon"]),
        ("1-5", ["mon", "tue", "wed", "thu", "fri"]),
        ("5-7", ["fri", "sat", "sun"]),  # up to 7: through Sunday
        ("fri-sat", ["fri", "sat"]),
        ("*/2", ["sun", "tue", "thu", "sat"]),
        ("1/2", ["mon", "wed", "fri"]),  # from Monday, every second day to the week's end
        ("1-5/2", ["mon", "wed", "fri"]),
        ("0,3", ["sun", "wed"]),
        ("*", ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]),
    ],
)
def test_weekdays_are_counted_as_cron_counts_them(field: str, days: list[str]) -> None:
    fired = set(weekdays_fired(f"0 9 * * {field}"))
    assert fired == set(days)


def test_the_next_fire_is_strictly_after() -> None:
    first = next_fire("30 10 * * *", WEDNESDAY - 60)
    assert first == WEDNESDAY
    assert next_fire("30 10 * * *", first) == WEDNESDAY + 86400


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("0 9 * *", "needs 5 fields"),
        ("0 9 * * 8", "bad weekday '8' (use 0-7 or sun-sat)"),
        ("0 9 * * funday", "bad weekday 'funday'"),
        ("0 9 * * 5-1", "weekday range '5-1' runs backwards"),
        ("0 9 * * */0", "bad step '/0'"),
        ("0 9 * * 1/x", "bad step '/x'"),
        ("61 9 * * *", "cron expression '61 9 * * *': "),
        ("0 9 31 2 *", "never fires"),
    ],
)
def test_bad_expressions_say_what_is_wrong(expr: str, message: str) -> None:
    with pytest.raises(CronError) as refused:
        validate(expr)
    assert message in str(refused.value)
