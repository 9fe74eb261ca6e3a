"""Regenerate the README's numbers block from a store built from the bundled snapshot.

`make readme-numbers` runs it; a test fails when the README drifts from the store.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

from llmcarto.analysis.affiliation import affiliation_shares, shares_markdown
from llmcarto.analysis.licence_drift import readme_block as licences_block
from llmcarto.analysis.lineage_readme import readme_block as lineage_block
from llmcarto.analysis.lineage_readme import update_readme as update_lineage
from llmcarto.analysis.measures import readme_block as measures_block
from llmcarto.analysis.measures import update_readme as update_measures
from llmcarto.store import open_published
from llmcarto.store.build import build
from llmcarto.store.status import status, status_markdown

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"(<!-- status:begin -->\n)(.*?)(<!-- status:end -->)", re.S)
LICENCES_BLOCK = re.compile(r"(<!-- licences:begin -->\n)(.*?)(<!-- licences:end -->)", re.S)
AFFILIATION_BLOCK = re.compile(r"(<!-- affiliation:begin -->\n)(.*?)(<!-- affiliation:end -->)",
                               re.S)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "numbers.duckdb"
        build(db)
        con = open_published(db)
        try:
            block = status_markdown(status(con))
            licences = licences_block(con)
            affiliation = shares_markdown(affiliation_shares(con))
            lineage = lineage_block(con)
            measures = measures_block(con)
        finally:
            con.close()
    text = README.read_text(encoding="utf-8")
    if not BLOCK.search(text):
        print("README.md has no <!-- status:begin --> … <!-- status:end --> block", file=sys.stderr)
        return 1
    text = BLOCK.sub(lambda m: m.group(1) + block + m.group(3), text)
    text = LICENCES_BLOCK.sub(lambda m: m.group(1) + licences + m.group(3), text)
    text = AFFILIATION_BLOCK.sub(lambda m: m.group(1) + affiliation + m.group(3), text)
    text = update_lineage(text, lineage)
    text = update_measures(text, measures)
    README.write_text(text, encoding="utf-8")
    print("README numbers updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
