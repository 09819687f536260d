"""The main screen's panes; each owns its own state and renders rows it is given."""
