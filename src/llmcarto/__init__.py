"""llmcarto: a measured, reproducible cartography of open collaboration around open LLMs.

Layers, top to bottom: `framework` (the study's model and the case registry, as data),
`sources` (one reader per source, yielding records with provenance), `store` (DuckDB),
`analysis` (pure functions over tables), `atlas` (the web app), `cli` (a thin shell).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("llmcarto")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
