"""The headless core: storage, states, executor, tools and policy. Never imports Textual or Rich."""
