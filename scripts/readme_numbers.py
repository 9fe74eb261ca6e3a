"""Regenerate the README's numbers block from a store built from the bundled snapshot.

`make readme-numbers` runs it; a test fails when the README drifts from the store.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from llmcarto.store import open_published
from llmcarto.store.build import build
from llmcarto.store.status import status, status_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- status:begin -->\n)(.*?)(<!-- status:end -->)", re.S)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "numbers.duckdb"
        build(db)
        con = open_published(db)
        try:
            block = status_markdown(status(con))
        finally:
            con.close()
    text = README.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        print("README.md has no <!-- status:begin --> … <!-- status:end --> block", file=sys.stderr)
        return 1
    README.write_text(BLOCK.sub(lambda m: m.group(1) + block + m.group(3), text),
                      encoding="utf-8")
    print("README numbers updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
