"""Checkpoints: every side-effecting action's changes to its workspace recorded, shown and undoable.

A shadow git repository per workspace (in agent-tui's data directory, hidden from sandboxed
commands) snapshots the workspace before and after each such action; the change is recorded on the
action; :mod:`~agent_tui.core.checkpoints.undo` restores what a goal or a step changed.
"""

from agent_tui.core.checkpoints.shadow import Change, CheckpointError, FileChange, Shadow

__all__ = ["Change", "CheckpointError", "FileChange", "Shadow"]
