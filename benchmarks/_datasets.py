"""Where the benchmarks find the shared datasets: ``../shared/datasets`` beside the repository,
or the folder given with ``--datasets``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def datasets_parser(description: str | None) -> argparse.ArgumentParser:
    """A benchmark's argument parser, with ``--datasets DIR``; `description` is its docstring."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="the shared datasets folder")
    return parser


def dataset_dirs(root: Path, *names: str) -> list[Path]:
    """The named datasets (or files) under `root`; exits naming the ones that are missing."""
    missing = [name for name in names if not (root / name).exists()]
    if missing:
        sys.exit(f"{root} lacks {', '.join(missing)}")
    return [root / name for name in names]
