"""The OS sandbox under ``shell`` and ``python``: the policy decides whether an action runs, the
sandbox decides what it can touch.

On Linux the sandbox is bubblewrap: the filesystem read-only except the workspace and a private
``/tmp``; secret stores and agent-tui's own files hidden; a PID namespace that ends every
descendant with its step; network only when the configured mode and the decision allow it.
"""

from agent_tui.core.sandbox.hidden import SECRET_STORES, SYSTEM_SECRETS, hidden_paths
from agent_tui.core.sandbox.probe import SandboxStatus, sandbox_status
from agent_tui.core.sandbox.wrap import (
    SANDBOXED_TOOLS,
    SandboxError,
    approval_note,
    network_for,
    sandboxed,
)

__all__ = [
    "SANDBOXED_TOOLS",
    "SECRET_STORES",
    "SYSTEM_SECRETS",
    "SandboxError",
    "SandboxStatus",
    "approval_note",
    "hidden_paths",
    "network_for",
    "sandbox_status",
    "sandboxed",
]
