"""The one SQLAlchemy MetaData every capability declares its tables on.

Each capability owns its tables in its own `tables.py`; `all_tables()` imports
them so that tools comparing the schema (migrations, tests) see every one.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from sqlalchemy import MetaData

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def table_modules() -> list[str]:
    """Every capability's `tables` module (`monoloop/<capability>/tables.py`)."""
    package = Path(__file__).resolve().parent.parent
    return sorted(f"monoloop.{p.parent.name}.tables" for p in package.glob("*/tables.py"))


def all_tables() -> MetaData:
    for module in table_modules():
        importlib.import_module(module)
    return metadata
