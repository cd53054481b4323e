"""Dependencies: settings and the database session. Who is calling: api/auth.py; who may: api/policy.py."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from threekcal.db.session import session_factory
from threekcal.settings import Settings


async def get_settings(request: Request) -> Settings:
    # async: no I/O here, and an async dependency costs no threadpool round trip
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


def open_session(settings: Settings) -> Session:
    return session_factory(settings.database_url, settings.db_timeout)()


def get_session(settings: SettingsDep) -> Iterator[Session]:
    with open_session(settings) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
