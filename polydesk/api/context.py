"""What every control API handler shares: its context (settings, bus, event log, risk's settings), the
request bodies it accepts, and the event-log line a change leaves with its actor."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse

from polydesk.api.auth import actor
from polydesk.api.settings import ApiSettings
from services.risk.config import RiskSettings
from shared.approvals import VerdictStore
from shared.logging import EventLog
from shared.streams import Bus

UNKNOWN = "unknown"


@dataclass
class ApiContext:
    settings: ApiSettings
    bus: Bus
    events: EventLog
    risk: RiskSettings | None  # None: risk's settings do not load here, so its ledger cannot be found
    risk_error: str = ""

    @property
    def verdicts(self) -> VerdictStore:
        return VerdictStore(self.bus.redis, self.bus.prefix)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class KillSwitchBody(Body):
    active: bool
    reason: str = Field(min_length=1, max_length=500)


class CancelAllBody(Body):
    reason: str = Field(default="cancel all by hand", min_length=1, max_length=500)
    market: str | None = None


class DecisionBody(Body):
    reason: str = Field(default="", max_length=500)


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.ctx
    return ctx


async def read_body(request: Request, model: type[Body]) -> Body | JSONResponse:
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as error:
        problems = [f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in error.errors()]
        return JSONResponse({"error": "bad request: " + "; ".join(problems)}, status_code=400)


def changed(request: Request, what: str, **fields: Any) -> None:
    """A state change, in the event log with who asked for it."""
    context(request).events.emit(
        "api_call", action=what, actor=actor(request.scope), path=request.url.path, **fields
    )
