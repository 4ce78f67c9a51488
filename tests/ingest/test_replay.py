"""`polydesk book-replay FILE` run as a subprocess, on tapes written in the venue's wire format."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.ingest.conftest import NO, YES, RefBook, price_change

pytestmark = pytest.mark.processes  # starts polydesk processes: not in make test-fast


def replay(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polydesk", "book-replay", str(path)],
                          capture_output=True, text=True, timeout=60)


def tape() -> tuple[list[bytes], RefBook, RefBook]:
    yes = RefBook(YES, [("0.40", "100"), ("0.45", "50")], [("0.55", "70"), ("0.50", "20")])
    no = RefBook(NO, [("0.50", "20"), ("0.45", "70")], [("0.60", "100"), ("0.55", "50")])
    lines = [orjson.dumps([yes.book_frame("1"), no.book_frame("1")])]
    for ts, (price, size) in enumerate([("0.46", "5"), ("0.45", "0"), ("0.47", "9")], start=2):
        mirror = f"{1 - float(price):.2f}"
        lines.append(orjson.dumps(price_change(
            [yes.change("BUY", price, size, str(ts)), no.change("SELL", mirror, size, str(ts))], str(ts))))
    return lines, yes, no


def test_prints_final_books_best_first_with_hash_verdicts(tmp_path):
    lines, yes, no = tape()
    path = tmp_path / "tape.jsonl"
    path.write_bytes(b"\n".join(lines[:2] + [b"{broken", b"", b'{"event_type":"nope"}'] + lines[2:]) + b"\n")
    run = replay(path)
    assert run.returncode == 0, run.stderr
    books = orjson.loads(run.stdout)
    assert books[YES] == {"bids": [["0.47", "9"], ["0.46", "5"], ["0.40", "100"]],
                          "asks": [["0.50", "20"], ["0.55", "70"]], "tick_size": "0.01", "hash_ok": True}
    assert books[NO]["asks"] == [["0.53", "9"], ["0.54", "5"], ["0.60", "100"]]
    assert books[NO]["hash_ok"] is True
    assert "line 3: malformed frame: invalid JSON" in run.stderr
    assert "line 5: malformed frame: unknown event_type 'nope'" in run.stderr
    assert "2 malformed" in run.stderr


def test_hash_ok_false_on_a_desync_and_null_without_hashes(tmp_path):
    lines, yes, _ = tape()
    bad = orjson.loads(lines[-1])
    bad["price_changes"][0]["size"] = "8"  # the venue's hash says 9: our book would now be wrong
    unhashed = {"event_type": "book", "market": "0x" + "11" * 32, "asset_id": "77", "timestamp": "5",
                "bids": [{"price": "0.1", "size": "1"}], "asks": []}
    path = tmp_path / "tape.jsonl"
    path.write_bytes(b"\n".join(lines[:-1] + [orjson.dumps(bad), orjson.dumps(unhashed)]))
    books = orjson.loads(replay(path).stdout)
    assert books[YES]["hash_ok"] is False and books[YES]["bids"][0] == ["0.47", "8"]
    assert books["77"] == {"bids": [["0.1", "1"]], "asks": [], "tick_size": None, "hash_ok": None}


def test_whole_file_json_array_of_frames(tmp_path):
    lines, _, _ = tape()
    path = tmp_path / "tape.json"
    path.write_bytes(orjson.dumps([orjson.loads(line) for line in lines], option=orjson.OPT_INDENT_2))
    run = replay(path)
    assert run.returncode == 0 and orjson.loads(run.stdout)[YES]["bids"][0] == ["0.47", "9"]


def test_missing_file_is_a_one_line_error(tmp_path):
    run = replay(tmp_path / "absent.jsonl")
    assert run.returncode != 0 and run.stdout == ""
    assert run.stderr.count("\n") == 1 and "absent.jsonl" in run.stderr


def test_a_tape_recorded_by_the_paper_exchange_replays_to_its_books(tmp_path):
    import httpx

    from paperexchange.server import PaperExchangeServer
    from tests.helpers import eventually

    tape_path = tmp_path / "recorded.jsonl"
    with PaperExchangeServer(admin=True, record_tape=str(tape_path)) as server:
        admin = httpx.Client(base_url=server.url + "/_paper")
        market = admin.get("/markets").json()[0]
        yes = market["tokens"][0]["token_id"]
        flow = [("BUY", "0.31", "12"), ("SELL", "0.77", "9"), ("BUY", "0.31", "3"), ("SELL", "0.05", "4")]
        for side, price, size in flow:
            admin.post("/orders", json=[{"token_id": yes, "side": side, "price": price, "size": size}])
        eventually(lambda: tape_path.read_bytes().count(b"\n") >= 1 + len(flow))
        venue_books = {t["token_id"]: httpx.get(server.url + "/book", params={"token_id": t["token_id"]}).json()
                       for t in market["tokens"]}
    run = replay(tape_path)
    assert run.returncode == 0, run.stderr
    books = orjson.loads(run.stdout)
    for token, book in venue_books.items():
        best_first = {"bids": [[lvl["price"], lvl["size"]] for lvl in reversed(book["bids"])],
                      "asks": [[lvl["price"], lvl["size"]] for lvl in reversed(book["asks"])]}
        assert {k: books[token][k] for k in ("bids", "asks")} == best_first
        assert books[token]["hash_ok"] is True
