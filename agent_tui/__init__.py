"""agent-tui: mission control for autonomous LLM agents, in the terminal."""

__version__ = "0.1.0"
