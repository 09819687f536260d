"""What a tool raises when it cannot do what was asked (below the tools and the sandbox both)."""

from __future__ import annotations


class ToolError(Exception):
    """The tool could not do what was asked; the message is shown to the user (and the model)."""


class TransientToolError(ToolError):
    """A failure worth retrying with backoff (network hiccup, rate limit)."""
