"""Migration 0004 keeps existing labels and attributes them to (inactive) accounts made from the names."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from threekcal.db import migrate
from threekcal.db.session import engine_for

T0 = datetime(2026, 11, 1, 12, 0, 0)


def _seed_0002(url: str) -> None:
    """What a 0002 database with labels looks like: free-text labeled_by/changed_by and no provenance."""
    comments = [
        # num, label, labeled_by, prediction
        (1, "joy", "minji", "joy"),
        (2, "anger", "minji", "fear"),
        (3, "fear", "Jun", "fear"),
        (4, None, None, "sadness"),
        (5, "sadness", "jun", "sadness"),  # differs from "Jun" only in case: one account
    ]
    events = [
        # num, action, changed_by, old, new
        (1, "accept", "minji", None, "joy"),
        (2, "set", "minji", None, "anger"),
        (3, "set", "Jun", None, "neutral"),
        (3, "accept", "Jun", "neutral", "fear"),
        (4, "set", "ghost", None, "joy"),
        (4, "undo", "ghost", "joy", None),
        (5, "set", "jun", None, "sadness"),
    ]
    with engine_for(url).begin() as connection:
        for num, label, by, prediction in comments:
            connection.execute(
                text(
                    "INSERT INTO comments (num, comments, request_user, request_time, receipt,"
                    " prediction_result, label, labeled_by, labeled_at)"
                    " VALUES (:num, :text, 'writer', :t, :receipt, :prediction, :label, :by, :at)"
                ),
                {"num": num, "text": f"text {num}", "t": T0, "receipt": f"r{num}", "prediction": prediction,
                 "label": label, "by": by, "at": T0 if label else None},
            )  # fmt: skip
        for num, action, by, old, new in events:
            connection.execute(
                text(
                    "INSERT INTO label_events (num, action, changed_by, changed_at, old_label, new_label)"
                    " VALUES (:num, :action, :by, :t, :old, :new)"
                ),
                {"num": num, "action": action, "by": by, "t": T0, "old": old, "new": new},
            )


def test_existing_labels_are_attributed_to_inactive_accounts(empty_database_url: str) -> None:
    url = empty_database_url
    migrate.upgrade(url, "0002")
    _seed_0002(url)
    migrate.upgrade(url)
    assert migrate.current_revision_for(url) == migrate.head_revision()

    with engine_for(url).connect() as connection:
        users = {
            row.username.casefold(): row
            for row in connection.execute(text("SELECT id, username, role, active, password_hash FROM users"))
        }
        comments = {
            row.num: row
            for row in connection.execute(
                text(
                    "SELECT num, label, labeled_by, labeled_by_id, label_source, label_version FROM comments"
                )
            )
        }
        events = connection.execute(
            text("SELECT num, action, changed_by_id, label_source FROM label_events ORDER BY id")
        ).all()

    assert set(users) == {"minji", "jun", "ghost"}
    for user in users.values():
        assert not user.active and user.password_hash is None and user.role == "annotator"
    # labels, names and the old columns are kept; the author is now an account, the source is known
    assert comments[1].label == "joy" and comments[1].labeled_by == "minji"
    assert comments[1].labeled_by_id == users["minji"].id
    assert comments[1].label_source == "bulk_accepted"
    assert comments[2].label_source == "chosen"
    assert comments[3].label_source == "bulk_accepted"  # its newest change was an accept
    assert comments[3].labeled_by_id == comments[5].labeled_by_id == users["jun"].id
    assert (
        comments[4].label is None and comments[4].label_source is None and comments[4].labeled_by_id is None
    )
    assert all(comment.label_version == 0 for comment in comments.values())
    assert [event.changed_by_id for event in events] == [
        users[name].id for name in ("minji", "minji", "jun", "jun", "ghost", "ghost", "jun")
    ]
    assert [event.label_source for event in events] == [
        "bulk_accepted", "chosen", "chosen", "bulk_accepted", "chosen", None, "chosen"
    ]  # fmt: skip


def test_inactive_migrated_account_logs_in_after_a_password_reset(empty_database_url: str) -> None:
    from threekcal.db import accounts
    from threekcal.db.session import session_factory

    url = empty_database_url
    migrate.upgrade(url, "0002")
    _seed_0002(url)
    migrate.upgrade(url)
    with session_factory(url)() as session:
        assert accounts.authenticate(session, "minji", "whatever-pass") is None
        accounts.reset_password(session, "minji", "new-password-1")
        assert accounts.authenticate(session, "minji", "new-password-1") is None  # still inactive
        accounts.set_active(session, "minji", True)
        user = accounts.authenticate(session, "minji", "new-password-1")
        assert user is not None and user.active and user.last_login_at is not None
        assert user.last_login_at.tzinfo == UTC


def test_downgrade_to_0002_and_back_keeps_labels(empty_database_url: str) -> None:
    url = empty_database_url
    migrate.upgrade(url, "0002")
    _seed_0002(url)
    migrate.upgrade(url)
    migrate.downgrade(url, "0002")
    with engine_for(url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM comments WHERE label IS NOT NULL")).scalar() == 4
    migrate.upgrade(url)
    with engine_for(url).connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM users")).scalar() == 3
