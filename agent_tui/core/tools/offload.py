"""Run blocking work (file I/O, previews) off the event loop, with a deadline.

A read on a stuck file (a hung network mount, a FIFO that slipped past a check) must never freeze
the executor: its heartbeats, other steps and signal handling all live on the loop. Each call gets
its own daemon thread rather than a pool worker, so a call that never returns holds no pool slot
and cannot keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from agent_tui.core.tools.base import ToolError, TransientToolError

IO_TIMEOUT = 60.0
"""Seconds a file tool's I/O may take before the call fails."""
PREVIEW_TIMEOUT = 20.0
"""Seconds a tool's preview may take (it may read the file it would change)."""
T = TypeVar("T")


async def off_loop(fn: Callable[..., T], *args: Any, timeout: float, what: str) -> T:
    """``fn(*args)`` in a daemon thread; :class:`ToolError` if it takes longer than ``timeout``."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        try:
            outcome: tuple[bool, Any] = (True, fn(*args))
        except BaseException as exc:  # handed to the awaiting task, which raises it
            outcome = (False, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:  # the loop closed while the call ran: nobody is waiting
            pass

    threading.Thread(target=work, name=f"agent-tui {what}", daemon=True).start()
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        if not future.cancelled():  # raised by ``fn`` itself
            raise
        raise ToolError(f"{what} did not finish within {timeout:g} s") from None


async def race(
    work: Coroutine[Any, Any, T],
    cancelled: asyncio.Event,
    timeout: float | None = None,
    what: str = "",
) -> T | None:
    """Run ``work`` until it ends, ``cancelled`` is set (``None``) or ``timeout`` passes.

    A timeout raises :class:`TransientToolError` naming ``what`` was being done; the work is
    cancelled in both early cases.
    """
    task = asyncio.ensure_future(work)
    canceller = asyncio.ensure_future(cancelled.wait())
    try:
        done, _ = await asyncio.wait(
            {task, canceller}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        canceller.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    if task in done:
        return task.result()
    if canceller in done:
        return None
    raise TransientToolError(f"timed out after {timeout:g} s {what}".rstrip())
