"""Days and times, in the machine's local time zone: the one home for "today" and "tomorrow".

Daily limits, daily budgets and usage per day all count from local midnight.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def start_of_day(now: float) -> float:
    """Local midnight at the start of the day that holds ``now`` (epoch seconds)."""
    day = (
        datetime.fromtimestamp(now).astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    )
    return day.timestamp()


def next_midnight(now: float) -> float:
    """A second past the next local midnight: when a daily window reopens."""
    return start_of_day(now) + timedelta(days=1, seconds=1).total_seconds()


def local_time(ts: float, fmt: str = "%Y-%m-%d %H:%M:%S %Z") -> str:
    """``ts`` as local wall-clock text."""
    return datetime.fromtimestamp(ts).astimezone().strftime(fmt)
