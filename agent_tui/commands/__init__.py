"""The CLI's commands, one module per area; each takes parsed arguments and returns an exit code."""
