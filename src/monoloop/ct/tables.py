"""The controller's tables: retraining cycles, and the state of scheduled pipelines."""

from __future__ import annotations

from sqlalchemy import Column, Double, Index, Integer, String, Table, Text

from monoloop.store.schema import metadata

NAME_LEN = 100

# One row per retraining cycle of a policy. `open_key` holds the policy's name while the
# cycle is open and NULL once it ends: the unique constraint lets at most one cycle per
# policy be open, even with two controllers racing on PostgreSQL.
ct_cycles = Table(
    "ct_cycles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("policy", String(NAME_LEN), nullable=False),
    Column("deployment", String(NAME_LEN), nullable=False),
    Column("model", String(NAME_LEN), nullable=False),
    # open | promoted | rejected | rolled_back | failed
    Column("state", String(16), nullable=False),
    Column("step", String(16), nullable=False),  # where an open cycle is; "done" once ended
    Column("open_key", String(NAME_LEN), nullable=True, unique=True),
    Column("started", Double, nullable=False),
    Column("updated", Double, nullable=False),
    Column("ended", Double, nullable=True),
    Column("trigger_result", Integer, nullable=True),  # the monitor result that opened it
    Column("champion", Integer, nullable=True),  # the version serving when it opened
    Column("challenger", Integer, nullable=True),
    Column("canary_started", Double, nullable=True),
    Column("decisions", Text, nullable=False),  # JSON list: every step taken and why
    Index(None, "policy", "started"),
)

# A scheduled pipeline's last fired slot. `slot` is the cron time that was fired (or the
# one before the controller first saw the schedule), so a restart knows what it missed.
pipeline_schedules = Table(
    "pipeline_schedules",
    metadata,
    Column("pipeline", String(NAME_LEN), primary_key=True),
    Column("schedule", String(100), nullable=False),
    Column("slot", Double, nullable=False),
    Column("fired", Double, nullable=True),  # when the controller last ran it
    Column("status", String(16), nullable=True),  # running | ok | failed
    Column("missed", Integer, nullable=False),  # slots skipped over by the last firing
)
