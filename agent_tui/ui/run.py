"""``agent-tui`` with no command: open the store, then run the app (the CLI's entry point)."""

from __future__ import annotations

import os
import sys


def run_app(executor: bool, *, collect_after_first_frame: bool = False) -> int:
    """Run the TUI; a config or database problem is one error line and exit code 1, before Textual.

    ``collect_after_first_frame``: turn the cyclic garbage collector on once the first frame is
    drawn (the CLI starts with it off)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from agent_tui.config import ConfigError, load_settings
    from agent_tui.core.store import StoreError, open_store

    try:
        settings = load_settings()
        store = open_store(settings)
    except (ConfigError, StoreError) as exc:
        print(f"agent-tui: error: {exc}", file=sys.stderr)
        return 1
    try:
        from agent_tui.ui.app import create_app

        app = create_app(store, settings, executor=executor)
        app.collect_after_first_frame = collect_after_first_frame
        app.run()
        return app.return_code or 0
    finally:
        store.close()
