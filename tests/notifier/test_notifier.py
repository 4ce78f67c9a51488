"""The notifier on a real Redis against a local Bot API and webhook (tests/notifier/fake_bot_api.py): what it
tells, batched and signed; daily-loss levels once; a pending verdict approved by its Telegram button through a
running strategy worker; buttons from another chat refused; 429 retried; the bot token in no log or error."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback

import pytest

from services.notifier.config import NotifierSettings
from services.notifier.service import Notifier
from services.notifier.telegram import ChannelError, TelegramBot
from services.notifier.webhook import SIGNATURE_HEADER, signature
from shared import messages as m
from shared.lifecycle import ServiceContext, health_key, run_declared
from shared.logging import EventLog, read_events
from shared.streams import CONTROL, FILLS, INTENTS, SIGNALS, Bus
from tests.helpers import eventually
from tests.notifier.fake_bot_api import FakeBotApi
from tests.risk.helpers import fill
from tests.strategy.test_held_verdicts import M, _acknowledged, manual, market, pending_ids
from tests.strategy.test_service import intents, run_worker
from tests.strategy.scenario import signal

pytestmark = pytest.mark.integration

TOKEN = "123456:AAF-the-bot-token-of-the-tests"
CHAT = "-100777"
HOOK_SECRET = "webhook-secret-of-the-tests"


def notifier_settings(api: FakeBotApi, prefix: str, tmp_path, **extra) -> NotifierSettings:
    values = dict(stream_prefix=prefix, log_dir=tmp_path, instance="n1", telegram_bot_token=TOKEN,
                  telegram_chat_id=CHAT, telegram_api_url=api.url, webhook_url=f"{api.url}/hook",
                  webhook_secret=HOOK_SECRET, notify_batch_secs=0.3, notify_poll_secs=0.2)
    return NotifierSettings(_env_file=None, **{**values, **extra})


async def run_notifier(bus: Bus, settings: NotifierSettings, until) -> None:
    ctx = ServiceContext("notifier", settings, bus.redis, bus, EventLog(settings.log_dir, "notifier"))
    task = asyncio.create_task(run_declared(ctx, Notifier(ctx, settings).run))
    try:
        await eventually(lambda: _groups_ready(bus), timeout=10)
        await until()
    finally:
        ctx.request_stop()
        await asyncio.wait_for(task, 15)


async def _groups_ready(bus: Bus) -> bool:
    for stream in (FILLS, CONTROL):
        if not [g for g in await bus.group_stats(stream) if g.group == "notifier"]:
            return False
    return True


def texts(api: FakeBotApi) -> str:
    return "\n".join(s["text"] for s in api.sent)


async def test_fills_kill_switch_log_events_and_loss_levels_are_told_batched_and_signed(bus, prefix, tmp_path):
    with FakeBotApi(TOKEN) as api:
        settings = notifier_settings(api, prefix, tmp_path, notify_batch_secs=1.0)
        events = EventLog(tmp_path, "up")
        risk_key = health_key(prefix, "risk", "r1")

        async def scenario() -> None:
            for i in range(3):
                await bus.publish(FILLS, fill(f"t{i}", m.TradeStatus.MATCHED))
            await bus.publish(FILLS, fill("t0", m.TradeStatus.CONFIRMED))  # no second note for a trade
            await bus.publish(CONTROL, m.KillSwitchChanged(envelope=m.Envelope.new("risk"), active=True,
                                                           reason="by hand", actor="cli:me"))
            events.emit("service_restarted", child="risk", exit_code=-9, restarts=1, last_error="boom")
            events.emit("reconcile_difference", kind="position", source="chain", token_id="1001", ledger="5",
                        venue="4")
            events.emit("preflight", checks=[{"name": "funds", "status": "FAIL", "detail": "no pUSD"}])
            status = {"service": "risk", "pnl_realized_usd": "-60", "pnl_unrealized_usd": "0",
                      "max_daily_loss_usd": "100"}
            await bus.redis.set(risk_key, json.dumps(status))
            await eventually(lambda: "50% of the 100 USD limit" in texts(api), timeout=15)
            await bus.redis.set(risk_key, json.dumps({**status, "pnl_realized_usd": "-85"}))
            await eventually(lambda: "80% of the 100 USD limit" in texts(api), timeout=15)
            await eventually(lambda: len(api.webhooks) >= 2 and "preflight failed" in texts(api), timeout=15)

        await run_notifier(bus, settings, scenario)
        # A restarted notifier does not warn again for a level of the same day.
        await run_notifier(bus, settings, lambda: asyncio.sleep(1.0))

    told = texts(api)
    assert told.count("fill: BUY 10 @ 0.50") == 3
    for expected in ("kill switch TRIPPED: by hand (cli:me)", "risk exited (-9) and restarts (restart 1): boom",
                     "ledger and venue differ (position 1001, chain): ledger 5, venue 4",
                     "preflight failed, not trading: funds: no pUSD"):
        assert expected in told
    assert told.count("50% of the") == 1 and told.count("80% of the") == 1
    assert len(api.sent) < 8  # batched: the first batch alone carried the fills and the kill switch
    assert any("polydesk: " in s["text"] and " notes\n" in s["text"] for s in api.sent)
    assert all(s["chat_id"] == CHAT for s in api.sent)
    for headers, body in api.webhooks:
        assert headers[SIGNATURE_HEADER.lower()] == signature(HOOK_SECRET, body)
    hooked = [n for _, body in api.webhooks for n in json.loads(body)["notes"]]
    assert sum(n["kind"] == "fill" for n in hooked) == 3


async def test_a_pending_verdict_is_approved_by_its_telegram_button(bus, redis_url, prefix, tmp_path):
    await market(bus)
    verdict = signal(M, "0.60", at=time.time())
    vid = verdict.envelope.message_id
    with FakeBotApi(TOKEN) as api:
        settings = notifier_settings(api, prefix, tmp_path / "n")

        async def both() -> None:
            strategy = manual(redis_url, prefix, tmp_path / "s")

            async def flow() -> None:
                await eventually(lambda: _acknowledged(bus))  # the worker knows the market first
                await bus.publish(SIGNALS, verdict)
                await eventually(lambda: pending_ids(bus))
                sent = await eventually(lambda: [s for s in api.sent if "reply_markup" in s], timeout=15)
                buttons = sent[0]["reply_markup"]["inline_keyboard"][0]
                assert [b["callback_data"] for b in buttons] == [f"approve:{vid}", f"reject:{vid}"]
                api.press(f"approve:{vid}", chat_id=-999)  # another chat: not obeyed
                await eventually(lambda: len(api.answers) == 1, timeout=15)
                assert await pending_ids(bus) == [vid]
                api.press(f"approve:{vid}", chat_id=int(CHAT), user_id=42, username="ann")
                await eventually(lambda: intents(bus), timeout=15)
                await eventually(lambda: len(api.answers) == 2, timeout=15)
                await eventually(lambda: f"verdict {vid} approved (telegram:42:ann)" in texts(api), timeout=15)

            await run_worker(bus, strategy, tmp_path / "s", flow)

        await run_notifier(bus, settings, both)
    assert api.answers[0]["text"].startswith("not obeyed")
    assert api.answers[1]["text"] == "verdict approved"
    [intent] = await intents(bus)
    assert isinstance(intent, m.OrderIntent) and intent.signal_key == f"verdict:{vid}"
    decisions = [m.decode(f) for _, f in await bus.redis.xrange(bus.key(SIGNALS))]
    assert [d.actor for d in decisions if isinstance(d, m.VerdictDecision)] == ["telegram:42:ann"]
    logged = read_events(sorted((tmp_path / "n").glob("events-*.jsonl")))
    assert [e["actor"] for e in logged if e["type"] == "notifier_button_refused"] == ["telegram:7:trader"]
    assert api.offsets[-1] == 3  # both presses consumed; a restart does not handle them again
    assert await bus.length(INTENTS) == 1


async def test_a_rate_limited_message_is_sent_later_not_lost(bus, prefix, tmp_path):
    with FakeBotApi(TOKEN) as api:
        api.rate_limit_next = 1
        settings = notifier_settings(api, prefix, tmp_path, webhook_url=None, webhook_secret=None)

        async def told() -> None:
            await bus.publish(CONTROL, m.KillSwitchChanged(envelope=m.Envelope.new("risk"), active=False,
                                                           reason="all clear", actor="cli:me"))
            await eventually(lambda: "kill switch released: all clear" in texts(api), timeout=15)

        await run_notifier(bus, settings, told)
    assert api.rate_limit_next == 0 and len(api.sent) == 1


async def test_the_bot_token_is_in_no_log_line_and_no_error(bus, prefix, tmp_path, caplog):
    import socket

    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        dead_url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    bot = TelegramBot(dead_url, TOKEN, CHAT, timeout_secs=2)
    with pytest.raises(ChannelError) as raised:
        await bot.send("hello")
    await bot.close()
    shown = "".join(traceback.format_exception(raised.value))
    assert TOKEN not in shown and "bot" not in str(raised.value).replace("telegram", "")

    with FakeBotApi("another-token") as api:  # the far end refuses this token: a 401 with its description
        settings = notifier_settings(api, prefix, tmp_path, webhook_url=None, webhook_secret=None)
        settings = settings.model_copy(update={"telegram_api_url": dead_url})
        caplog.set_level(logging.DEBUG)

        async def fails() -> None:
            await bus.publish(CONTROL, m.KillSwitchChanged(envelope=m.Envelope.new("risk"), active=True,
                                                           reason="x", actor="y"))
            await eventually(lambda: "not delivered" in caplog.text, timeout=15)
            await eventually(lambda: "cannot read button presses" in caplog.text, timeout=15)

        await run_notifier(bus, settings, fails)
    logged = caplog.text + "".join(p.read_text() for p in tmp_path.glob("*.jsonl"))
    assert TOKEN not in logged and TOKEN.split(":")[1] not in logged


async def test_a_restart_outside_up_is_told_from_a_new_pid_in_the_health_key(bus, prefix, tmp_path):
    with FakeBotApi(TOKEN) as api:
        settings = notifier_settings(api, prefix, tmp_path, webhook_url=None, webhook_secret=None)
        key = health_key(prefix, "ingest", "box1")

        async def restarted() -> None:
            await bus.redis.set(key, json.dumps({"service": "ingest", "instance": "box1", "pid": 100}))
            await asyncio.sleep(1.0)  # seen with its first pid
            await bus.redis.set(key, json.dumps({"service": "ingest", "instance": "box1", "pid": 200}))
            await eventually(lambda: "ingest (box1) restarted: pid 100 -> 200" in texts(api), timeout=15)
            # Under `polydesk up` its supervisor tells restarts (from the event log): no second note.
            await bus.redis.set(f"{prefix}up:supervised", "{}")
            await bus.redis.set(key, json.dumps({"service": "ingest", "instance": "box1", "pid": 300}))
            await asyncio.sleep(1.5)

        await run_notifier(bus, settings, restarted)
    assert "restarted" in texts(api) and "pid 200 -> 300" not in texts(api)
