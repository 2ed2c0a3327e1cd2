"""monitoring and continuous training: prediction_labels, monitor_results, ct_cycles,
pipeline_schedules

Revision ID: 0007
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "prediction_labels",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prediction_labels")),
        sa.UniqueConstraint(
            "deployment", "request_id", name=op.f("uq_prediction_labels_deployment_request_id")
        ),
    )
    op.create_table(
        "monitor_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("monitor", sa.String(length=32), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.Column("window_info", sa.Text(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("statistics", sa.Text(), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("alert", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_results")),
    )
    op.create_index(
        op.f("ix_monitor_results_deployment_monitor_id"),
        "monitor_results",
        ["deployment", "monitor", "id"],
    )
    op.create_table(
        "ct_cycles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("policy", sa.String(length=100), nullable=False),
        sa.Column("deployment", sa.String(length=100), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("step", sa.String(length=16), nullable=False),
        sa.Column("open_key", sa.String(length=100), nullable=True),
        sa.Column("started", sa.Double(), nullable=False),
        sa.Column("updated", sa.Double(), nullable=False),
        sa.Column("ended", sa.Double(), nullable=True),
        sa.Column("trigger_result", sa.Integer(), nullable=True),
        sa.Column("champion", sa.Integer(), nullable=True),
        sa.Column("challenger", sa.Integer(), nullable=True),
        sa.Column("canary_started", sa.Double(), nullable=True),
        sa.Column("decisions", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ct_cycles")),
        sa.UniqueConstraint("open_key", name=op.f("uq_ct_cycles_open_key")),
    )
    op.create_index(op.f("ix_ct_cycles_policy_started"), "ct_cycles", ["policy", "started"])
    op.create_table(
        "pipeline_schedules",
        sa.Column("pipeline", sa.String(length=100), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("slot", sa.Double(), nullable=False),
        sa.Column("fired", sa.Double(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("missed", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pipeline", name=op.f("pk_pipeline_schedules")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_schedules")
    op.drop_table("ct_cycles")
    op.drop_table("monitor_results")
    op.drop_table("prediction_labels")
