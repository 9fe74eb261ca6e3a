"""Rebuild the committed snapshot (src/llmcarto/snapshot/) from ../shared/data.

Run by maintainers when the offline bundle changes (`make snapshot`); deterministic, so
an unchanged bundle gives byte-identical files and an empty `git diff`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from llmcarto.bundle import build_snapshot, snapshot_dir

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=snapshot_dir())
    args = parser.parse_args()
    summary = build_snapshot(args.shared, args.out)
    print(f"{len(summary['files'])} files -> {args.out} "
          f"({summary['archive_bytes'] / 1e6:.2f} MB compressed)")


if __name__ == "__main__":
    main()
