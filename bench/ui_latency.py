"""The TUI in a real terminal: key round trips under a flood of output, cold start, memory.

Every figure comes from the real ``python -m agent_tui.cli`` process on a pseudo-terminal (120×40),
reading the bytes it writes, as a terminal would:

- key round trip while a shell step prints 10,000 lines/s: ``f`` toggles follow mode, which turns
  the output pane's subtitle from "· following" into "not following (f)" and back; the time is from
  writing the key to the pty until those bytes arrive. Target p95 ≤ 50 ms.
- cold start: from spawning the process to the first frame that shows goals, over a database of
  10,000 goals and 100,000 steps. Target ≤ 0.6 s.
- memory: VmRSS of the process after a step printed 1,000,000 lines. Target ≤ 150 MiB.
"""

from __future__ import annotations

import fcntl
import os
import pty
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from common import ROOT, child_env, fresh_home, parser, percentiles, report

from agent_tui import paths
from agent_tui.core.goals import add_recipe_goal
from agent_tui.core.recipes import parse_recipe
from agent_tui.core.store import Store
from tests.ui.demo import bulk_goals

COLUMNS, ROWS = 120, 40
RATE_SCRIPT = """
import sys, time
total, per_tick, tick = {total}, {per_tick}, {tick}
start = time.monotonic()
n = 0
while n < total:
    sys.stdout.write("".join(f"line {{n + i}} of the flood\\n" for i in range(per_tick)))
    sys.stdout.flush()
    n += per_tick
    wait = start + (n / per_tick) * tick - time.monotonic()
    if wait > 0:
        time.sleep(wait)
"""


class Terminal:
    """The app on a pty; a thread drains its output and keeps every byte with its arrival time."""

    def __init__(self, *args: str) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
        env = child_env()
        env.update(TERM="xterm-256color", COLORTERM="truecolor", LANG="C.UTF-8")
        env["AGENT_TUI_POLICY__TOOLS"] = '{ shell = "allow" }'
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent_tui.cli", *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            cwd=ROOT,
            start_new_session=True,
        )
        os.close(slave)
        self.fd = master
        self.data = bytearray()
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except OSError:
                chunk = b""
            with self.cond:
                if not chunk:
                    self.data += b"\0EOF"
                    self.cond.notify_all()
                    return
                self.data += chunk
                self.cond.notify_all()

    def mark(self) -> int:
        with self.lock:
            return len(self.data)

    def wait_for(self, needle: bytes, since: int = 0, timeout: float = 30.0) -> float:
        """Seconds (perf_counter) at which ``needle`` arrived after byte ``since``."""
        deadline = time.perf_counter() + timeout
        with self.cond:
            while True:
                start = max(0, since - len(needle))
                if self.data.find(needle, start) >= 0:
                    return time.perf_counter()
                if self.data.endswith(b"\0EOF"):
                    raise RuntimeError(f"the app exited before {needle!r}")
                left = deadline - time.perf_counter()
                if left <= 0:
                    tail = bytes(self.data[-400:])
                    raise TimeoutError(f"no {needle!r} within {timeout} s; last bytes: {tail!r}")
                self.cond.wait(min(left, 0.05))

    def send(self, keys: bytes) -> float:
        sent = time.perf_counter()
        os.write(self.fd, keys)
        return sent

    def trim(self) -> None:
        """Forget what was read so far (a long flood would otherwise fill this process)."""
        with self.lock:
            del self.data[:]

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        line = next(li for li in status.splitlines() if li.startswith("VmRSS:"))
        return int(line.split()[1]) / 1024

    def close(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        os.close(self.fd)


def flood(store: Store, lines: int, per_tick: int, tick: float) -> int:
    script = RATE_SCRIPT.format(total=lines, per_tick=per_tick, tick=tick)
    recipe = {
        "title": "Flood",
        "priority": 10,
        "steps": [{"id": "flood", "tool": "shell", "args": {"command": f"python3 -c '{script}'"}}],
    }
    return add_recipe_goal(store, parse_recipe(recipe))


def key_round_trip(samples: int) -> dict:
    """``f`` pressed ``samples`` times while 10,000 lines/s stream into the output pane."""
    fresh_home()
    store = Store(paths.db_path())
    goal = flood(store, lines=10_000 * 120, per_tick=100, tick=0.01)
    term = Terminal()
    try:
        term.wait_for(b" of the flood", timeout=30)
        time.sleep(2.0)
        first = time.perf_counter()
        times: list[float] = []
        for n in range(samples):
            target = b"not following (f)" if n % 2 == 0 else b"\xc2\xb7 following"
            since = term.mark()
            sent = term.send(b"f")
            times.append((term.wait_for(target, since, timeout=10) - sent) * 1000)
            time.sleep(0.15)
            if n % 20 == 19:
                term.trim()
        streamed = store.one(
            "SELECT sum(length(text)) AS n FROM output o JOIN actions a ON a.id = o.action_id"
            " WHERE a.goal_id = ?",
            (goal,),
        )
        elapsed = time.perf_counter() - first
        result = percentiles(times)
        result["p95_ms"] = round(sorted(times)[int(0.95 * len(times))], 3)
        result["stream_seconds"] = round(elapsed, 1)
        result["streamed_mib_stored"] = round((streamed or {}).get("n", 0) / 2**20, 1)
        return result
    finally:
        term.close()
        store.close()


def cold_start(runs: int) -> dict:
    """Spawn to the first frame that shows goals, over 10,000 goals and 100,000 steps."""
    fresh_home()
    store = Store(paths.db_path())
    built = time.perf_counter()
    bulk_goals(store, 10_000, steps_per_goal=10)
    build_s = time.perf_counter() - built
    store.close()
    times: list[float] = []
    for _ in range(runs):
        term = Terminal()
        try:
            times.append((term.wait_for(b"of the bulk load", timeout=30) - term.started) * 1000)
        finally:
            term.close()
    result = percentiles(times)
    result["database_build_s"] = round(build_s, 2)
    return result


def memory(lines: int) -> dict:
    """VmRSS after a step printed ``lines`` lines as fast as it could (shown all along)."""
    fresh_home()
    store = Store(paths.db_path())
    goal = flood(store, lines=lines, per_tick=1000, tick=0.0)
    term = Terminal()
    try:
        term.wait_for(b"of the flood", timeout=30)
        peak = 0.0
        started = time.perf_counter()
        while True:
            row = store.one("SELECT status FROM goals WHERE id = ?", (goal,))
            peak = max(peak, term.rss_mib())
            term.trim()
            if row and row["status"] in ("completed", "failed"):
                break
            if time.perf_counter() - started > 600:
                raise TimeoutError("the flood did not finish in 10 minutes")
            time.sleep(0.25)
        since = term.mark()
        term.wait_for(f"line {lines - 1} of the flood".encode(), since - 1, timeout=30)
        time.sleep(1.0)
        return {
            "lines": lines,
            "stream_seconds": round(time.perf_counter() - started, 1),
            "rss_mib_after": round(term.rss_mib(), 1),
            "rss_mib_peak": round(peak, 1),
            "status": row["status"] if row else None,
        }
    finally:
        term.close()
        store.close()


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--samples", type=int, default=60, help="key presses to time")
    p.add_argument("--lines", type=int, default=1_000_000, help="lines streamed for memory")
    args = p.parse_args()
    result: dict = {"benchmark": "ui_latency"}
    result["key_round_trip_10k_lines_per_s"] = key_round_trip(args.samples)
    result["cold_start_10k_goals_100k_steps"] = cold_start(5)
    result["memory_after_stream"] = memory(args.lines)
    result["targets"] = {"key_p95_ms": 50, "cold_start_ms": 600, "rss_mib": 150}
    result["meets_targets"] = (
        result["key_round_trip_10k_lines_per_s"]["p95_ms"] <= 50
        and result["cold_start_10k_goals_100k_steps"]["p50_ms"] <= 600
        and result["memory_after_stream"]["rss_mib_peak"] <= 150
    )
    report(result, args.json)


if __name__ == "__main__":
    main()
