"""Accounts and personal API tokens: create, list, disable, reset passwords, issue and revoke tokens,
check a password. Passwords are hashed with Argon2 (pwdlib); tokens are stored as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache

from pwdlib import PasswordHash
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from threekcal.db.models import ROLES, ApiToken, User
from threekcal.db.types import utcnow
from threekcal.validation import check_password, check_token_label, check_username

SERVICE_ACCOUNT = "admin"  # THREEKCAL_ADMIN_TOKEN authenticates as this account
PERSONAL_TOKEN_PREFIX = "tkp_"  # tells personal tokens from signed login tokens at a glance
PASSWORD_BYTES = 18  # generated passwords: 24 URL-safe characters
TOKEN_BYTES = 32


class AccountError(ValueError):
    """A request about accounts that cannot be done; the message says why."""


@lru_cache
def password_hasher() -> PasswordHash:
    return PasswordHash.recommended()  # Argon2id with pwdlib's current parameters


def hash_password(password: str) -> str:
    return password_hasher().hash(password)


def generate_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Verifying an unknown user still costs one Argon2 check, so timing does not tell which names exist.
_DUMMY_HASH: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY_HASH:
        _DUMMY_HASH.append(hash_password(secrets.token_urlsafe(16)))
    return _DUMMY_HASH[0]


def find_user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).one_or_none()


def get_user(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise AccountError(f"No account named {username!r}")
    return user


def create_user(session: Session, username: str, *, role: str, password: str | None) -> User:
    """A new active account; with ``password=None`` it cannot log in with a password (tokens only)."""
    username = check_username(username)
    if role not in ROLES:
        raise AccountError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    if find_user(session, username) is not None:
        raise AccountError(f"An account named {username!r} already exists")
    user = User(
        username=username,
        role=role,
        password_hash=hash_password(check_password(password)) if password is not None else None,
        active=True,
        created_at=utcnow(),
    )
    session.add(user)
    try:
        session.commit()
    except IntegrityError:  # created meanwhile by someone else (or differs only in case on MariaDB)
        session.rollback()
        raise AccountError(f"An account named {username!r} already exists") from None
    return user


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.username)))


def set_active(session: Session, username: str, active: bool) -> User:
    user = get_user(session, username)
    user.active = active
    session.commit()
    return user


def reset_password(session: Session, username: str, password: str) -> User:
    """A new password; the active flag stays as it is (``set_active`` enables an account)."""
    user = get_user(session, username)
    user.password_hash = hash_password(check_password(password))
    session.commit()
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active account with this password, or None; records the login time."""
    user = find_user(session, username)
    if user is None or user.password_hash is None:
        password_hasher().verify(password, _dummy_hash())
        return None
    valid, new_hash = password_hasher().verify_and_update(password, user.password_hash)
    if not valid or not user.active:
        return None
    if new_hash is not None:  # pwdlib's parameters changed since this hash was made
        user.password_hash = new_hash
    user.last_login_at = utcnow()
    session.commit()
    return user


@dataclass(frozen=True)
class IssuedToken:
    id: int
    token: str  # shown once; only its digest is stored


def issue_token(session: Session, username: str, label: str | None = None) -> IssuedToken:
    label = check_token_label(label)
    user = get_user(session, username)
    token = PERSONAL_TOKEN_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)
    row = ApiToken(user_id=user.id, label=label, token_hash=token_digest(token), created_at=utcnow())
    session.add(row)
    session.commit()
    return IssuedToken(id=row.id, token=token)


def revoke_token(session: Session, token_id: int) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None:
        raise AccountError(f"No token with id {token_id}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.commit()
    return row


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)))


def user_for_personal_token(session: Session, token: str) -> User | None:
    """The owner of a valid (not revoked) personal token, whatever its active flag; records last use."""
    row = session.scalars(select(ApiToken).where(ApiToken.token_hash == token_digest(token))).one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    row.last_used_at = utcnow()
    session.commit()
    return session.get(User, row.user_id)


def service_account(session: Session) -> User:
    """The account THREEKCAL_ADMIN_TOKEN stands for; created (without a password) on first use."""
    user = find_user(session, SERVICE_ACCOUNT)
    if user is not None:
        return user
    try:
        return create_user(session, SERVICE_ACCOUNT, role="admin", password=None)
    except AccountError:  # created by a concurrent request
        return get_user(session, SERVICE_ACCOUNT)


def ensure_first_admin(session: Session) -> str | None:
    """Development start-up: when no admin can sign in with a password, give the account ``admin`` a
    generated password (creating the account when missing) and return it, to be shown once; else None."""
    admins = session.scalars(select(User).where(User.role == "admin", User.active.is_(True))).all()
    if any(user.password_hash is not None for user in admins):
        return None
    password = generate_password()
    user = find_user(session, SERVICE_ACCOUNT)
    if user is None:
        create_user(session, SERVICE_ACCOUNT, role="admin", password=password)
    elif user.role == "admin" and user.active and user.password_hash is None:
        reset_password(session, SERVICE_ACCOUNT, password)
    else:  # an `admin` that is disabled or not an admin was made so on purpose: leave it
        return None
    return password


def count_admins(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(User).where(User.role == "admin")) or 0
