"""Idle CPU: what an idle ``agent-tui worker`` and an idle TUI (with its embedded executor) cost,
read from ``/proc/PID/stat`` (user + system time, the process's threads included) over a window.

Each program starts in a fresh home with a few finished goals, settles, and is then measured for
``--seconds`` (60 by default). The TUI runs on a real pseudo-terminal (80×24 by default) whose output
this process reads and throws away. Targets: a worker ≤ 0.3 % of a core, the TUI ≤ 0.5 %.
"""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
import threading
import time
from pathlib import Path

from common import ROOT, child_env, fresh_home, parser, report

TARGETS = {"worker": 0.3, "tui": 0.5}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system time of a process so far (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def measure(pid: int, settle: float, seconds: float) -> float:
    """Percent of one core over ``seconds``, after ``settle`` seconds."""
    time.sleep(settle)
    before, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    after, t1 = cpu_seconds(pid), time.monotonic()
    return round(100 * (after - before) / (t1 - t0), 3)


def seed(home: Path, env: dict[str, str]) -> None:
    """A few finished goals, so the panes have something to show."""
    recipe = home / "idle.toml"
    steps = "".join(
        f'[[steps]]\nid = "s{i}"\ntool = "echo"\nargs = {{ text = "{i}" }}\n' for i in range(5)
    )
    recipe.write_text(f'title = "idle"\n{steps}')
    for _ in range(3):
        subprocess.run(
            [sys.executable, "-m", "agent_tui.cli", "run", str(recipe)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
            timeout=120,
        )


def worker(env: dict[str, str], settle: float, seconds: float) -> float:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_tui.cli", "worker"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        return measure(proc.pid, settle, seconds)
    finally:
        proc.terminate()
        proc.wait(30)


def tui(env: dict[str, str], settle: float, seconds: float) -> float:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_tui.cli"],
        env={**env, "TERM": "xterm-256color"},
        cwd=ROOT,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    done = threading.Event()

    def drain() -> None:
        while not done.is_set():
            try:
                if not os.read(master, 65536):
                    return
            except OSError:
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        return measure(proc.pid, settle, seconds)
    finally:
        done.set()
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        os.close(master)


def main() -> None:
    p = parser(__doc__ or "")
    p.add_argument("--seconds", type=float, default=60.0, help="how long each is measured")
    p.add_argument("--settle", type=float, default=8.0, help="seconds after start before measuring")
    p.add_argument("--only", choices=sorted(TARGETS), help="measure only this program")
    args = p.parse_args()
    home = fresh_home()
    env = child_env()
    env["AGENT_TUI_LLM__OLLAMA_URL"] = "http://127.0.0.1:9"  # nothing to probe: an idle machine
    seed(home, env)
    result: dict[str, object] = {"benchmark": "idle_cpu", "seconds": args.seconds}
    programs = {"worker": worker, "tui": tui}
    figures = {
        name: run(env, args.settle, args.seconds)
        for name, run in programs.items()
        if args.only in (None, name)
    }
    result["percent_of_a_core"] = figures
    result["targets"] = TARGETS
    result["meets_targets"] = all(figures[k] <= TARGETS[k] for k in figures)
    report(result, args.json)


if __name__ == "__main__":
    main()
