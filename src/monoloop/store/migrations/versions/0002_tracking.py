"""tracking: runs, run_params, run_tags, metric_history, metric_latest, run_artifacts, run_io

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _run_fk() -> sa.Column[str]:
    return sa.Column("run_id", sa.String(length=32), nullable=False)


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["run_id"], ["runs.id"], name=op.f(f"fk_{table}_run_id_runs"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(length=32), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=250), nullable=True),
        sa.Column("pipeline", sa.String(length=250), nullable=True),
        sa.Column("stage", sa.String(length=250), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("start_time", sa.Double(), nullable=False),
        sa.Column("end_time", sa.Double(), nullable=True),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("git_dirty", sa.Boolean(), nullable=True),
        sa.Column("python", sa.String(length=64), nullable=True),
        sa.Column("packages_hash", sa.String(length=67), nullable=True),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column("log_id", sa.String(length=67), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_name"), "runs", ["name"])
    op.create_index(op.f("ix_runs_status"), "runs", ["status"])
    op.create_index(op.f("ix_runs_start_time"), "runs", ["start_time"])
    op.create_index(op.f("ix_runs_pipeline_stage"), "runs", ["pipeline", "stage"])

    op.create_table(
        "run_params",
        _run_fk(),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("kind", sa.String(length=1), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("num", sa.Double(), nullable=True),
        _fk("run_params"),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_run_params")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_run_params_key_num_text_run_id"), "run_params", ["key", "num", "text", "run_id"]
    )

    op.create_table(
        "run_tags",
        _run_fk(),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("value", sa.String(length=500), nullable=False),
        _fk("run_tags"),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_run_tags")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_run_tags_key_value_run_id"), "run_tags", ["key", "value", "run_id"])

    op.create_table(
        "metric_history",
        _run_fk(),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("step", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("timestamp", sa.Double(), nullable=False),
        _fk("metric_history"),
        sa.PrimaryKeyConstraint("run_id", "key", "step", name=op.f("pk_metric_history")),
        sqlite_with_rowid=False,
    )

    op.create_table(
        "metric_latest",
        _run_fk(),
        sa.Column("key", sa.String(length=250), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=True),
        sa.Column("timestamp", sa.Double(), nullable=False),
        _fk("metric_latest"),
        sa.PrimaryKeyConstraint("run_id", "key", name=op.f("pk_metric_latest")),
        sqlite_with_rowid=False,
    )
    op.create_index(
        op.f("ix_metric_latest_key_value_run_id"), "metric_latest", ["key", "value", "run_id"]
    )

    op.create_table(
        "run_artifacts",
        _run_fk(),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("object_id", sa.String(length=67), nullable=False),
        sa.Column("kind", sa.String(length=4), nullable=False),
        _fk("run_artifacts"),
        sa.PrimaryKeyConstraint("run_id", "name", name=op.f("pk_run_artifacts")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_run_artifacts_object_id"), "run_artifacts", ["object_id"])

    op.create_table(
        "run_io",
        _run_fk(),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("object_id", sa.String(length=67), nullable=False),
        _fk("run_io"),
        sa.PrimaryKeyConstraint("run_id", "direction", "path", name=op.f("pk_run_io")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_run_io_object_id"), "run_io", ["object_id"])


def downgrade() -> None:
    for table in ("run_io", "run_artifacts", "metric_latest", "metric_history", "run_tags"):
        op.drop_table(table)
    op.drop_table("run_params")
    op.drop_table("runs")
