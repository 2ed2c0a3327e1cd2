"""prediction log: prediction_files

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_files",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("hour", sa.String(length=13), nullable=False),
        sa.Column("object_id", sa.String(length=67), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("first_time", sa.Double(), nullable=False),
        sa.Column("last_time", sa.Double(), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_files")),
    )
    op.create_index(
        op.f("ix_prediction_files_deployment_hour_id"),
        "prediction_files",
        ["deployment", "hour", "id"],
    )
    op.create_index(
        op.f("ix_prediction_files_deployment_last_time"),
        "prediction_files",
        ["deployment", "last_time"],
    )


def downgrade() -> None:
    op.drop_table("prediction_files")
