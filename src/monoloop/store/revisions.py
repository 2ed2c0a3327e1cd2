"""The schema revision this monoloop expects, known without importing SQLAlchemy or Alembic.

Revisions are numbered files (`0002_tracking_runs.py` is revision "0002"), so the newest
is a directory listing away; a test checks Alembic agrees.
"""

from __future__ import annotations

import os
from pathlib import Path

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def newest_revision() -> str:
    numbers = [
        name.split("_", 1)[0]
        for name in os.listdir(MIGRATIONS_DIR / "versions")
        if name.endswith(".py") and name[:4].isdigit()
    ]
    return max(numbers)


SCHEMA_HEAD = newest_revision()
