"""When a policy opens a retraining cycle: one of its checks fired on the version the
deployment serves now, after the last cycle ended, and the guards allow it.

Guards: no new cycle while one is open (cycles.py: at most one open per policy), none
within `cooldown_minutes` after the last one ended, and at most `max_retrains_per_day`
started in any 24 hours. A guard holding a trigger back is one `ct.skip` event (not one
per tick), naming the guard and the monitor result it held back.
"""

from __future__ import annotations

import logging

from monoloop.ct import cycles
from monoloop.ct.cycles import Decision
from monoloop.ct.spec import PolicySpec
from monoloop.errors import NotFound
from monoloop.monitoring.monitors import MonitorResult
from monoloop.workspace import Workspace

log = logging.getLogger("monoloop.ct")


def maybe_trigger(ws: Workspace, name: str, policy: PolicySpec, *, now: float) -> Decision:
    """Open a cycle of policy `name` if a check of it fired and the guards allow it."""
    from monoloop.monitoring.monitors import history
    from monoloop.registry.versions import get_version

    served = ws.config.deployments[policy.deployment].model
    model = served.partition("@")[0]
    try:
        champion = get_version(ws, served).version
    except NotFound:
        return Decision(name, "idle", f"nothing holds {served} yet")
    last = cycles.last_cycle(ws, name)
    since = (last.ended or last.started) if last is not None else None
    fired = []
    for check in policy.on:
        latest = history(ws, policy.deployment, monitor=check, role="primary", limit=1)
        fired += [
            r
            for r in latest
            if r.fired
            and r.model == model
            and r.version == champion  # not a stale result on a replaced version
            and (since is None or r.time > since)
        ]
    if not fired:
        return Decision(name, "idle", "no trigger")
    trigger = fired[0]
    if last is not None and last.ended is not None:
        until = last.ended + policy.cooldown_minutes * 60
        if now < until:
            wait = f"cooldown after cycle {last.id} for {(until - now) / 60:.0f} more min"
            return _skip(ws, name, "cooldown", wait, trigger)
    count = cycles.started_since(ws, name, now - cycles.DAY)
    if count >= policy.max_retrains_per_day:
        return _skip(
            ws,
            name,
            "max_retrains_per_day",
            f"{count} cycles in the last 24 h (max_retrains_per_day {policy.max_retrains_per_day})",
            trigger,
        )
    reason = (
        f"{trigger.monitor} fired on {model}:{champion} (result {trigger.id}): " + trigger.summary
    )
    cycle = cycles.open_cycle(
        ws,
        policy=name,
        deployment=policy.deployment,
        model=model,
        champion=champion,
        trigger=trigger.id or 0,
        reason=reason,
        now=now,
    )
    if cycle is None:
        return Decision(name, "skipped", "another controller opened a cycle first")
    return Decision(name, cycles.TRIGGERED, reason, cycle.id)


def _skip(ws: Workspace, name: str, guard: str, reason: str, trigger: MonitorResult) -> Decision:
    """A guard held a trigger back: said once in the ledger, not on every tick."""
    from monoloop.audit.service import EventFilter
    from monoloop.audit.service import log as events

    last = events(ws, EventFilter(subject=f"ct:{name}", kind="ct.*", limit=1))
    if not (last and last[-1].kind == "ct.skip" and last[-1].payload.get("guard") == guard):
        with ws.db.write() as conn:
            ws.record(
                conn,
                "ct.skip",
                f"ct:{name}",
                {"policy": name, "guard": guard, "reason": reason, "trigger": trigger.id},
            )
        log.info("ct: %s: skipped: %s", name, reason)
    return Decision(name, "skipped", reason)
