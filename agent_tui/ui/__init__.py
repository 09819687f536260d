"""The Textual UI: it reads and changes the core's database, and never the other way round."""
