"""API tokens on both databases: only a hash is stored, scopes nest, expiry and revocation
hold at once, and the ledger names tokens without their values."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select, update

from monoloop.audit import service as audit
from monoloop.auth import service as auth
from monoloop.auth import tokens
from monoloop.auth.tables import api_tokens
from monoloop.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from monoloop.workspace import Workspace


def test_a_token_is_stored_as_a_hash_and_verifies(ws: Workspace) -> None:
    new = auth.create_token(ws, "ci-bot", scope="write")
    assert new.secret.startswith("mlt_") and tokens.parse(new.secret) == new.token.id
    with ws.db.read() as conn:
        (row,) = conn.execute(select(api_tokens)).all()
    assert new.secret not in [str(v) for v in row]
    assert row.hash == tokens.digest(new.secret) and row.last_used is None
    token = auth.verify_token(ws, new.secret, need="read")
    assert (token.name, token.scope, token.status()) == ("ci-bot", "write", "active")
    assert auth.list_tokens(ws)[0].last_used is not None
    events = audit.log(ws, audit.EventFilter(kind="token.*"))
    assert [(e.kind, e.subject) for e in events] == [("token.create", "ci-bot")]
    assert new.secret not in str(events[0].to_dict())
    assert "token" in new.to_dict() and "token" not in token.to_dict()


def test_scopes_nest(ws: Workspace) -> None:
    secrets = {s: auth.create_token(ws, f"t-{s}", scope=s).secret for s in tokens.SCOPES}
    for i, have in enumerate(tokens.SCOPES):
        for j, need in enumerate(tokens.SCOPES):
            if j <= i:
                assert auth.verify_token(ws, secrets[have], need=need).scope == have
            else:
                with pytest.raises(Forbidden, match=f"has the {have} scope; this needs {need}"):
                    auth.verify_token(ws, secrets[have], need=need)


@pytest.mark.parametrize(
    "bad",
    ["", "Bearer x", "mlt_", "mlt_0123456789abcdef_" + "x" * 43, "mlt_zz" + "a" * 58],
)
def test_malformed_and_unknown_tokens_are_unauthorized(ws: Workspace, bad: str) -> None:
    auth.create_token(ws, "real", scope="admin")
    with pytest.raises(Unauthorized) as info:
        auth.verify_token(ws, bad, need="read")
    assert info.value.message == "the API token is not valid"  # and nothing of the token


def test_a_wrong_secret_for_a_real_id_is_unauthorized(ws: Workspace) -> None:
    new = auth.create_token(ws, "real", scope="admin")
    forged = new.secret[:21] + ("A" if new.secret[21] != "A" else "B") + new.secret[22:]
    with pytest.raises(Unauthorized, match="not valid"):
        auth.verify_token(ws, forged, need="read")


def test_expiry_and_revocation_hold_at_once(ws: Workspace) -> None:
    short = auth.create_token(ws, "short", scope="read", expires_in=3600)
    assert auth.verify_token(ws, short.secret, need="read")
    with ws.db.write() as conn:
        conn.execute(update(api_tokens).values(expires=time.time() - 1))
    with pytest.raises(Unauthorized, match="expired"):
        auth.verify_token(ws, short.secret, need="read")
    assert auth.list_tokens(ws) == []
    assert [t.status() for t in auth.list_tokens(ws, everything=True)] == ["expired"]

    new = auth.create_token(ws, "gone", scope="admin")
    auth.verify_token(ws, new.secret, need="admin")
    revoked = auth.revoke_token(ws, "gone")
    assert revoked.status() == "revoked" and revoked.revoked_by == ws.actor
    with pytest.raises(Unauthorized, match="revoked"):
        auth.verify_token(ws, new.secret, need="read")
    with pytest.raises(Conflict, match="already revoked"):
        auth.revoke_token(ws, new.token.id)
    with pytest.raises(NotFound):
        auth.revoke_token(ws, "gone")
    # The name is free again once its token is gone.
    again = auth.create_token(ws, "gone", scope="read")
    assert auth.revoke_token(ws, again.token.id).name == "gone"
    kinds = [e.kind for e in audit.log(ws, audit.EventFilter(kind="token.*"))]
    assert kinds.count("token.revoke") == 2


def test_names_scopes_projects_and_durations_are_checked(ws: Workspace) -> None:
    auth.create_token(ws, "dup", scope="read")
    with pytest.raises(Conflict, match="active token named 'dup'"):
        auth.create_token(ws, "dup", scope="write")
    with pytest.raises(InvalidInput, match="unknown scope"):
        auth.create_token(ws, "x", scope="root")
    with pytest.raises(InvalidInput, match="invalid token name"):
        auth.create_token(ws, "bad name", scope="read")
    with pytest.raises(InvalidInput, match="expire in the future"):
        auth.create_token(ws, "x", scope="read", expires_in=-5)
    assert tokens.parse_duration("30d") == 30 * 86400
    assert tokens.parse_duration("12h") == 12 * 3600
    assert tokens.parse_duration("2w") == 14 * 86400
    for text in ("30", "0d", "1y", "-1d"):
        with pytest.raises(InvalidInput, match="not a duration"):
            tokens.parse_duration(text)

    mine = auth.create_token(ws, "mine", scope="read", project=ws.config.project)
    other = auth.create_token(ws, "other", scope="admin", project="elsewhere")
    assert auth.verify_token(ws, mine.secret, need="read").project == ws.config.project
    with pytest.raises(Forbidden, match="for project 'elsewhere'"):
        auth.verify_token(ws, other.secret, need="read")


def test_the_bootstrap_admin_is_made_only_when_no_admin_is_active(ws: Workspace) -> None:
    first = auth.ensure_admin(ws)
    assert first is not None and first.token.name == auth.BOOTSTRAP_NAME
    assert first.token.scope == "admin"
    assert auth.ensure_admin(ws) is None
    auth.revoke_token(ws, first.token.id)
    second = auth.ensure_admin(ws)
    assert second is not None and second.secret != first.secret
