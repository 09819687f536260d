"""``agent-tui worker``: the executor alone, with a readable event log on stderr.

SIGINT (Ctrl+C), SIGTERM and SIGHUP stop it as the TUI's quit does: no new claims, running steps
finish (a second signal interrupts them, and they wait in the approvals queue). Exit codes: 0 done
or stopped on request, 3 (``--until-idle``) stopped because work waits for a person, 130 after
Ctrl+C, 1 an error, 2 a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from agent_tui.commands.common import EXIT_BLOCKED, UsageError, open_store, settings
from agent_tui.core.events import OutputChunk, format_event
from agent_tui.core.executor import Executor
from agent_tui.core.store import Event, Store, panes, readiness


class StderrSink:
    """Writes one line per event to stderr, and the tools' output when asked."""

    def __init__(self, show_output: bool = False) -> None:
        self.show_output = show_output

    def on_event(self, event: Event) -> None:
        print(format_event(event), file=sys.stderr, flush=True)

    def on_output(self, chunk: OutputChunk) -> None:
        if self.show_output:
            sys.stderr.write(chunk.text)
            sys.stderr.flush()


async def _run(args: argparse.Namespace) -> int:
    conf = settings()
    if args.labels:
        try:
            conf.executor.labels = [*conf.executor.labels, *args.labels.split(",")]
        except ValueError:
            raise UsageError(
                "--labels: each label is letters, digits, '_', '.', ':' or '-' (at most 64)"
            ) from None
    store = open_store(conf)
    executor = Executor(
        store, conf, kind="worker", max_parallel=args.max_parallel, sinks=[StderrSink(args.output)]
    )
    stop, force = asyncio.Event(), asyncio.Event()
    interrupted: list[int] = []

    def on_signal(sig: int) -> None:
        if not stop.is_set():
            interrupted.append(sig)
            stop.set()
            if executor.running:
                print(
                    f"worker: stopping; {len(executor.running)} running step(s) finish first "
                    "(Ctrl+C again interrupts them)",
                    file=sys.stderr,
                    flush=True,
                )
        else:
            force.set()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        loop.add_signal_handler(sig, on_signal, sig)
    await executor.start()
    print(
        f"worker {executor.owner} on {store.shown}"
        + (" (until idle)" if args.until_idle else " (Ctrl+C stops)"),
        file=sys.stderr,
    )
    waiters: list[asyncio.Task[Any]] = [asyncio.create_task(stop.wait())]
    if args.until_idle:
        waiters.append(asyncio.create_task(executor.run_until_idle()))
    await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    for waiter in waiters:
        waiter.cancel()
    await executor.stop(grace=None, force=force)
    if executor.errors:
        print(
            f"worker: {executor.errors} executor error(s); see the events above and "
            "`agent-tui locate log`",
            file=sys.stderr,
        )
    if args.until_idle and not stop.is_set() and report_blocked(store):
        return EXIT_BLOCKED
    # Ctrl+C is an interruption (130, as shells expect); SIGTERM and SIGHUP are requested stops.
    return 130 if interrupted[:1] == [signal.SIGINT] else 0


def report_blocked(store: Store) -> bool:
    """Say on stderr what still waits for a person after an idle stop; whether anything does.

    ``worker --until-idle`` then exits 3 instead of 0, so a script can tell "done" from "blocked".
    """
    approvals = panes.pending_approvals_by_goal(store)
    waiting = panes.goals_waiting_not_for_approval(store)
    for row in approvals:
        print(
            f"worker: goal {row['goal_id']}: {row['n']} approval(s) wait "
            f"(`agent-tui approvals`; `agent-tui approve --goal {row['goal_id']}` for all)",
            file=sys.stderr,
        )
    for goal in waiting:
        why = goal["status_message"] or goal["wait_reason"] or "waiting"
        print(f"worker: goal {goal['id']} waits: {why}", file=sys.stderr)
    # Goals no live worker may take (a goal another host's live worker runs is not blocked).
    elsewhere = readiness.placement_waits(store)
    for goal_id, why in sorted(elsewhere.items()):
        print(f"worker: goal {goal_id} {why}", file=sys.stderr)
    return bool(approvals or waiting or elsewhere)


def cmd_worker(args: argparse.Namespace) -> int:
    if args.max_parallel is not None and args.max_parallel < 1:
        raise UsageError("--max-parallel must be at least 1")
    return asyncio.run(_run(args))
