"""Command groups beyond the core verbs, one module per concern.

Each module defines `register(app, export_app)` adding its commands to the main app and
to the `llmcarto export …` group; `cli.py` calls them in `COMMAND_MODULES` order. Commands
stay thin: they parse flags and call analysis or store functions.
"""

COMMAND_MODULES: tuple[str, ...] = ("lineage", "hub", "licences", "git", "measures", "bench")
