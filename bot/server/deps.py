"""Dependencies shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from bot.agent import Agent
from bot.settings import Settings


def get_agent(request: Request) -> Agent:
    """The application's agent."""
    return request.app.state.agent


def get_app_settings(request: Request) -> Settings:
    """The application's settings."""
    return request.app.state.settings


AgentDep = Annotated[Agent, Depends(get_agent)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
