"""serving metrics: serving_instances, serving_counts

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
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
        "serving_counts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance", sa.Integer(), nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("span", sa.Integer(), nullable=False),
        sa.Column("start", sa.BigInteger(), nullable=False),
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
            name=op.f("fk_serving_counts_instance_serving_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serving_counts")),
        sa.UniqueConstraint(
            "instance",
            "span",
            "start",
            "role",
            "model",
            "version",
            name=op.f("uq_serving_counts_instance_span_start_role_model_version"),
        ),
    )
    op.create_index(
        op.f("ix_serving_counts_deployment_span_start"),
        "serving_counts",
        ["deployment", "span", "start"],
    )


def downgrade() -> None:
    op.drop_table("serving_counts")
    op.drop_table("serving_instances")
