"""events: drop the unique indexes on hash and prev_hash

Nothing reads events by hash: `audit verify` walks the chain in seq order and checks
every link. Two appenders can never link to one head: they take the head row's lock,
and the primary key on seq refuses a second event with a head's next seq. The two
indexes only cost every append two inserts at random places of two B-trees.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # SQLite drops a constraint by copying the table (Alembic's batch mode); PostgreSQL
    # drops it in place.
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint(op.f("uq_events_prev_hash"), type_="unique")
        batch.drop_constraint(op.f("uq_events_hash"), type_="unique")


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.create_unique_constraint(op.f("uq_events_prev_hash"), ["prev_hash"])
        batch.create_unique_constraint(op.f("uq_events_hash"), ["hash"])
