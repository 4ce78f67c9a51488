import datetime as dt
from decimal import Decimal

from pydantic import SecretStr

from shared.logging import EventLog, read_events, register_secret


def test_events_go_to_one_file_per_utc_day(tmp_path):
    now = [dt.datetime(2026, 11, 24, 23, 59, 59, tzinfo=dt.UTC).timestamp()]
    log = EventLog(tmp_path, "risk", clock=lambda: now[0])
    log.emit("risk_reject", rule="DEDUP_WINDOW", size=Decimal("1.50"))
    now[0] += 2
    log.emit("order_submitted", client_order_id="c1")
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events-2026-11-24.jsonl", "events-2026-11-25.jsonl"]
    first = read_events([tmp_path / "events-2026-11-24.jsonl"])
    assert first == [{"ts": "2026-11-24T23:59:59.000000Z", "type": "risk_reject", "service": "risk",
                      "rule": "DEDUP_WINDOW", "size": "1.50"}]
    assert read_events([tmp_path / "events-2026-11-25.jsonl"])[0]["type"] == "order_submitted"


def test_log_is_append_only_across_writers(tmp_path):
    EventLog(tmp_path, "a").emit("fill", n=1)
    EventLog(tmp_path, "b").emit("fill", n=2)
    events = read_events(sorted(tmp_path.glob("events-*.jsonl")))
    assert [(e["service"], e["n"]) for e in events] == [("a", 1), ("b", 2)]


def test_secrets_never_reach_the_event_log(tmp_path):
    secret = "0x" + "9a" * 32
    register_secret(secret)
    log = EventLog(tmp_path, "executor")
    log.emit("order_submitted", key=SecretStr("hidden-value"), note=f"signed with {secret}",
             error=RuntimeError(f"bad key {secret}"))
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    assert secret not in text and "hidden-value" not in text
    assert text.count("**********") == 3
