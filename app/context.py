"""What a running app holds (settings, engine, clock, worker) and the dependencies to read it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine

from app.clock import Clock
from app.settings import Settings

if TYPE_CHECKING:
    from app.metrics import Metrics
    from app.worker import Worker


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    clock: Clock
    worker: Worker | None = field(default=None)
    metrics: Metrics | None = field(default=None)


async def get_context(request: Request) -> AppContext:
    return request.app.state.context


async def get_clock(request: Request) -> Clock:
    return request.app.state.context.clock


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.context.settings


ContextDep = Annotated[AppContext, Depends(get_context)]
ClockDep = Annotated[Clock, Depends(get_clock)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
