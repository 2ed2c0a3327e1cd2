"""registry: models, model_versions, model_aliases, alias_history, model_checks

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_models")),
    )
    op.create_table(
        "model_versions",
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created", sa.Double(), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("flavor", sa.String(length=100), nullable=True),
        sa.Column("object_id", sa.String(length=67), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("trusted_by", sa.String(length=320), nullable=True),
        sa.Column("run_id", sa.String(length=32), nullable=True),
        sa.Column("git_commit", sa.String(length=64), nullable=True),
        sa.Column("task", sa.String(length=16), nullable=True),
        sa.Column("target", sa.String(length=250), nullable=True),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("metrics", sa.Text(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("importance", sa.Text(), nullable=True),
        sa.Column("card_fields", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.String(length=67), nullable=True),
        sa.Column("holdout_id", sa.String(length=67), nullable=True),
        sa.Column("card_id", sa.String(length=67), nullable=False),
        sa.ForeignKeyConstraint(
            ["model"],
            ["models.name"],
            name=op.f("fk_model_versions_model_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model", "version", name=op.f("pk_model_versions")),
    )
    op.create_index(op.f("ix_model_versions_object_id"), "model_versions", ["object_id"])
    op.create_index(op.f("ix_model_versions_run_id"), "model_versions", ["run_id"])
    op.create_table(
        "model_aliases",
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["model", "version"],
            ["model_versions.model", "model_versions.version"],
            name=op.f("fk_model_aliases_model_model_versions"),
        ),
        sa.PrimaryKeyConstraint("model", "alias", name=op.f("pk_model_aliases")),
    )
    op.create_table(
        "alias_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("previous", sa.Integer(), nullable=True),
        sa.Column("time", sa.Double(), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alias_history")),
    )
    op.create_index(
        op.f("ix_alias_history_model_alias_id"), "alias_history", ["model", "alias", "id"]
    )
    op.create_table(
        "model_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("time", sa.Double(), nullable=False),
        sa.Column("against", sa.String(length=100), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_checks")),
    )
    op.create_index(
        op.f("ix_model_checks_model_version_id"), "model_checks", ["model", "version", "id"]
    )


def downgrade() -> None:
    op.drop_table("model_checks")
    op.drop_table("alias_history")
    op.drop_table("model_aliases")
    op.drop_table("model_versions")
    op.drop_table("models")
