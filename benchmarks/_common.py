"""Shared bits of the benchmark scripts: where the reference data lives."""

import sys
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "fe-k-xanes"


def data_dir_or_exit(path=None) -> Path:
    path = Path(path) if path else DATA_DIR
    if not (path / "xyz").is_dir():
        sys.exit(f"reference data not found at {path} (it is not shipped with xanesviz); pass its location")
    return path
