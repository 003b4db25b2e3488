"""Regenerate the committed sample files into this folder (seeded, byte for byte):

    python sample_data/generate.py [--people 5000] [--seed 20261128] [--out sample_data] [--end YYYY-MM-DD]

The generator itself is engine/sample/generator.py; `cdp sample` runs it for the build day.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.sample.generator import *  # noqa: E402,F401,F403  (generate, MANIFEST, Gen, dates)
from engine.sample.generator import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(default_out=Path(__file__).resolve().parent))
