"""The notifier: tells a person what matters, on Telegram and/or a webhook.

Sources: `fills`, `control` and `verdicts` in its own consumer group `notifier` (created at the streams' end:
a first start does not replay history); the JSONL event log (service restarts from `polydesk up`, reconcile
differences from risk, a failed preflight from the executor), read from its end as it grows; risk's reported
daily PnL (its health key) against its loss limit. Notes are batched and rate limited per channel
(outbox.py). Telegram buttons on a pending verdict approve or reject it through the control path the API
and CLI use, obeyed only from the configured chat.

Delivery is at most once: an entry is acknowledged when its note is queued, so a crash loses the notes of
the batch in hand (at most POLYDESK_NOTIFY_BATCH_SECS of them); the facts stay in the streams and the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.notifier import notes
from services.notifier.config import NotifierSettings
from services.notifier.outbox import Batch, Outbox
from services.notifier.telegram import APPROVE, REJECT, ChannelError, TelegramBot
from services.notifier.webhook import Webhook
from shared.approvals import VerdictStore, request_verdict_decision
from shared.errors import ConfigurationError
from shared.lifecycle import ServiceContext, ServiceMain, health_key, supervised_key
from shared.logging import event_log_path
from shared.streams import CONTROL, FILLS, VERDICTS, Delivery, Output
from shared.streams.base import sleep_unless

log = logging.getLogger(__name__)

GROUP = "notifier"
BUTTON_POLL_SECS = 20  # Telegram long poll


@dataclass
class Channel:
    name: str
    outbox: Outbox
    send: Callable[[Batch], Awaitable[None]]


class EventLogTail:
    """New lines of today's event log file, from where it ended when the notifier started."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = Path(log_dir)
        self.path = self._today()
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        self._partial = b""

    def _today(self) -> Path:
        return event_log_path(self.log_dir, dt.datetime.now(dt.UTC))

    def read(self) -> list[dict[str, Any]]:
        today = self._today()
        if today != self.path:  # a new UTC day: its file from the start
            self.path, self.offset, self._partial = today, 0, b""
        if not self.path.exists():
            return []
        with self.path.open("rb") as handle:
            handle.seek(self.offset)
            chunk = handle.read()
        self.offset += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                continue
        return events


class Notifier:
    def __init__(self, ctx: ServiceContext, settings: NotifierSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.channels: list[Channel] = []
        self.bot: TelegramBot | None = None
        if settings.telegram_bot_token is not None and settings.telegram_chat_id:
            self.bot = TelegramBot(
                settings.telegram_api_url,
                settings.telegram_bot_token.get_secret_value(),
                settings.telegram_chat_id,
            )
            bot = self.bot
            self.channels.append(
                Channel(
                    "telegram",
                    Outbox(settings.notify_max_per_minute),
                    lambda b: bot.send(b.text, b.verdict_id),
                )
            )
        if settings.webhook_url is not None:
            secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else None
            hook = Webhook(settings.webhook_url, secret)
            self.channels.append(
                Channel("webhook", Outbox(settings.notify_max_per_minute), lambda b: hook.post(_payload(b)))
            )
            ctx.on_shutdown(hook.close)
        if self.bot is not None:
            ctx.on_shutdown(self.bot.close)
        self.tail = EventLogTail(settings.log_dir)
        self._pids: dict[
            tuple[str, str], object
        ] = {}  # (service, instance) -> the pid its health key last showed

    async def run(self) -> None:
        for stream in (FILLS, CONTROL, VERDICTS):
            # Only `verdicts` is ours alone to trim; the owners of fills and control trim those.
            self.ctx.consume(
                stream,
                GROUP,
                self.on_message,
                start_id="$",
                trim_interval_secs=60.0 if stream == VERDICTS else None,
            )
        self.ctx.every("flush", self.settings.notify_batch_secs, self.flush)
        self.ctx.every("event-log", self.settings.notify_poll_secs, self.read_event_log)
        self.ctx.every("health", self.settings.notify_poll_secs, self.read_health)
        if self.bot is not None:
            self.ctx.task("telegram-buttons", self.poll_buttons)
        self.ctx.status["channels"] = [c.name for c in self.channels]

    def queue(self, note: notes.Note | None) -> None:
        if note is not None:
            for channel in self.channels:
                channel.outbox.add(note)

    async def on_message(self, delivery: Delivery) -> Sequence[Output]:
        self.queue(notes.from_message(delivery.message))
        return ()

    async def read_event_log(self) -> None:
        for event in self.tail.read():
            self.queue(notes.from_event(event))

    async def read_health(self) -> None:
        """Risk's reported PnL against its loss limit, and restarts seen as a new pid in a health key."""
        prefix = self.settings.stream_prefix
        statuses: dict[tuple[str, str], dict[str, Any]] = {}
        async for key in self.ctx.redis.scan_iter(match=health_key(prefix, "*", "*"), count=500):
            raw = await self.ctx.redis.get(key)
            if raw:
                with contextlib.suppress(ValueError):
                    status = json.loads(raw)
                    statuses[(str(status.get("service")), str(status.get("instance")))] = status
        # Under `polydesk up` its supervisor logs each restart (with the last error): that note comes from the
        # event log. Elsewhere (Docker, systemd) a new pid behind the same health key is the sign.
        supervised = await self.ctx.redis.exists(supervised_key(prefix))
        pids = {slot: status.get("pid") for slot, status in statuses.items()}
        if not supervised:
            for note in notes.restarts(self._pids, pids):
                self.queue(note)
        self._pids.update(pids)
        risk = next((s for (service, _), s in statuses.items() if service == "risk"), {})
        await self.check_loss(risk)

    async def check_loss(self, status: dict[str, Any]) -> None:
        prefix = self.settings.stream_prefix
        loss, reached = notes.loss_levels_reached(status, self.settings.notify_loss_warn_pcts)
        day = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
        for pct in reached:
            # Once a day per level, also across notifier restarts: the first to set the key warns.
            first = await self.ctx.redis.set(
                f"{prefix}notifier:loss_warned:{day}:{pct}", "1", nx=True, ex=2 * 86400
            )
            if first:
                self.queue(notes.loss_note(loss, Decimal(str(status["max_daily_loss_usd"])), pct))

    async def flush(self) -> None:
        now = time.monotonic()
        for channel in self.channels:
            batches = channel.outbox.take(now)
            for index, batch in enumerate(batches):
                try:
                    await channel.send(batch)
                except ChannelError as error:  # never carries the token or the URL
                    channel.outbox.failed(batches[index:], now, error.retry_after)
                    log.warning("%s: not delivered, kept for the next try: %s", channel.name, error)
                    break
                channel.outbox.sent(now)
                self.ctx.events.emit(
                    "notification_sent",
                    channel=channel.name,
                    notes=len(batch.notes),
                    kinds=sorted({n.kind for n in batch.notes}),
                    verdict_id=batch.verdict_id,
                )

    # ---- Telegram buttons ------------------------------------------------------------------------------

    async def poll_buttons(self) -> None:
        assert self.bot is not None
        offset_key = f"{self.settings.stream_prefix}notifier:telegram_offset"
        raw = await self.ctx.redis.get(offset_key)
        offset = int(raw) if raw else None
        failures = 0
        while not self.ctx.stopping.is_set():
            poll = asyncio.create_task(self.bot.updates(offset, BUTTON_POLL_SECS))
            stop = asyncio.create_task(self.ctx.stopping.wait())
            await asyncio.wait({poll, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not poll.done():
                poll.cancel()
                return
            try:
                updates = poll.result()
                failures = 0
            except ChannelError as error:
                failures += 1
                log.warning("telegram: cannot read button presses (%s); retrying", error)
                await sleep_unless(self.ctx.stopping, min(60.0, 2.0 * failures))
                continue
            for update in updates:
                offset = int(update["update_id"]) + 1
                await self.ctx.redis.set(offset_key, str(offset))
                if "callback_query" in update:
                    await self.on_button(update["callback_query"])
            await sleep_unless(self.ctx.stopping, 0.2)

    async def on_button(self, query: dict[str, Any]) -> None:
        assert self.bot is not None
        sender = query.get("from") or {}
        who = f"telegram:{sender.get('id')}:{sender.get('username') or ''}"
        chat = str(((query.get("message") or {}).get("chat") or {}).get("id"))
        action, _, verdict_id = str(query.get("data") or "").partition(":")
        if chat != self.settings.telegram_chat_id or action not in (APPROVE, REJECT) or not verdict_id:
            self.ctx.events.emit("notifier_button_refused", actor=who, chat=chat, data=query.get("data"))
            await self._answer(query, "not obeyed: not from the configured chat, or not a verdict button")
            return
        answer = await request_verdict_decision(
            self.ctx.bus,
            VerdictStore(self.ctx.redis, self.settings.stream_prefix),
            verdict_id,
            approve=action == APPROVE,
            actor=who,
            reason="telegram button",
            wait_secs=5.0,
            producer="notifier",
        )
        if answer.refused is not None:
            text = f"refused: {answer.refused}"
        elif answer.state is None:
            text = "requested; strategy has not confirmed it yet"
        else:
            text = f"verdict {answer.state.value}"
        self.ctx.events.emit("notifier_button", actor=who, action=action, verdict_id=verdict_id, outcome=text)
        await self._answer(query, text)

    async def _answer(self, query: dict[str, Any], text: str) -> None:
        assert self.bot is not None
        try:
            await self.bot.answer(str(query.get("id")), text)
        except ChannelError as error:
            log.warning("telegram: could not answer a button press: %s", error)


def _payload(batch: Batch) -> dict[str, Any]:
    return {
        "source": "polydesk",
        "text": batch.text,
        "notes": [
            {"kind": n.kind, "text": n.text, "verdict_id": n.verdict_id, **n.data} for n in batch.notes
        ],
    }


def build_main(settings: NotifierSettings) -> ServiceMain:
    if not settings.configured:
        raise ConfigurationError(
            "the notifier has nowhere to send: set POLYDESK_TELEGRAM_BOT_TOKEN and POLYDESK_TELEGRAM_CHAT_ID, "
            "or POLYDESK_WEBHOOK_URL"
        )

    async def main(ctx: ServiceContext) -> None:
        await Notifier(ctx, settings).run()

    return main
