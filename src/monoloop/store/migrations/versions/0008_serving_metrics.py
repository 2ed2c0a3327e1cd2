"""serving metrics: serving_instances, serving_minutes

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "serving_instances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("started", sa.Double(), nullable=False),
        sa.Column("last_seen", sa.Double(), nullable=False),
        sa.Column("stopped", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_instances")),
    )
    op.create_index(op.f("ix_serving_instances_last_seen"), "serving_instances", ["last_seen"])
    op.create_table(
        "serving_minutes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("minute", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("errors_4xx", sa.Integer(), nullable=False),
        sa.Column("errors_5xx", sa.Integer(), nullable=False),
        sa.Column("latency_sum_ms", sa.Double(), nullable=False),
        sa.Column("latency", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance"],
            ["serving_instances.id"],
            name=op.f("fk_serving_minutes_instance_serving_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_minutes")),
        sa.UniqueConstraint(
            "instance",
            "minute",
            "role",
            "model",
            "version",
            name=op.f("uq_serving_minutes_instance_minute_role_model_version"),
        ),
    )
    op.create_index(
        op.f("ix_serving_minutes_deployment_minute"), "serving_minutes", ["deployment", "minute"]
    )


def downgrade() -> None:
    op.drop_table("serving_minutes")
    op.drop_table("serving_instances")
