"""Settings of the notifier: where notes go (Telegram, a webhook) and how often."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

from shared.config import ServiceSettings, http_url, parse_list


class NotifierSettings(ServiceSettings):
    SECRET_FIELDS: ClassVar[tuple[str, ...]] = ("redis_password", "telegram_bot_token", "webhook_secret")

    telegram_bot_token: SecretStr | None = Field(
        default=None, description="Telegram bot token (from @BotFather); unset: no Telegram notes"
    )
    telegram_chat_id: str | None = Field(
        default=None, description="the chat notes go to; only its buttons are obeyed"
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org",
        description="the Bot API's base URL (tests point it at a local one)",
    )
    webhook_url: str | None = Field(
        default=None, description="a URL each batch of notes is POSTed to as JSON; unset: no webhook"
    )
    webhook_secret: SecretStr | None = Field(
        default=None,
        description="signs each webhook body: header X-Polydesk-Signature = sha256=HMAC-SHA256(secret, body)",
    )
    notify_batch_secs: float = Field(
        default=5.0, gt=0, description="notes seen within this long go out as one message"
    )
    notify_max_per_minute: int = Field(
        default=20, ge=1, description="messages per channel per minute, at most; the rest wait and merge"
    )
    notify_loss_warn_pcts: Annotated[tuple[int, ...], NoDecode] = Field(
        default=(50, 80), description="warn once a day when the day's loss reaches these % of the limit"
    )
    notify_poll_secs: float = Field(
        default=2.0, gt=0, description="how often the event log and risk's reported PnL are read"
    )

    @field_validator("notify_loss_warn_pcts", mode="before")
    @classmethod
    def _pcts(cls, value: Any) -> Any:
        return parse_list(value)

    @field_validator("notify_loss_warn_pcts")
    @classmethod
    def _in_range(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(not 0 < pct <= 100 for pct in value):
            raise ValueError("each must be a percentage in 1..100")
        return tuple(sorted(set(value)))

    @field_validator("telegram_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return http_url(value).rstrip("/")

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return http_url(value)

    @model_validator(mode="after")
    def _chat_with_token(self) -> NotifierSettings:
        if self.telegram_bot_token is not None and not self.telegram_chat_id:
            raise ValueError("telegram_bot_token is set but telegram_chat_id is not")
        return self

    @property
    def configured(self) -> bool:
        """True when notes have somewhere to go."""
        return self.telegram_bot_token is not None or self.webhook_url is not None
