"""The one SQLAlchemy MetaData every capability declares its tables on.

Each capability owns its tables in its own `tables.py`; `all_tables()` imports
them so that tools comparing the schema (migrations, tests) see every one.
"""

from __future__ import annotations

import importlib

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

TABLE_MODULES = ("monoloop.audit.tables",)


def all_tables() -> MetaData:
    for module in TABLE_MODULES:
        importlib.import_module(module)
    return metadata
