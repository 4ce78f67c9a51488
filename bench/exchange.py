"""Paper-exchange benchmark: verified order posts/s and market-channel events/s fanned out to 10 sockets.

Run `python -m bench.exchange`. Speed is reported as ratios to baselines measured in the same run: the
official client's signing rate, a bare Starlette endpoint that does no work (same server stack, same
client), and a bare WebSocket fan-out of pre-serialized frames. Servers run in child processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time

import httpx
import orjson
import websockets
from eth_account import Account

from paperexchange import signing
from paperexchange.server import PaperExchangeProcess

SUBSCRIBERS = 10
CONCURRENCY = 32
POST_GOAL, EVENT_GOAL = 1_000, 20_000


# ---- baseline server: the same uvicorn + Starlette stack, doing no work ---------------------------

def baseline_app():
    from starlette.applications import Starlette
    from starlette.responses import Response
    from starlette.routing import Route, WebSocketRoute

    subscribers: list = []

    async def post(request):
        await request.body()
        return Response(b'{"success":true}', media_type="application/json")

    async def fanout(request):
        count = int(request.query_params["count"])
        frame = '{"event_type":"price_change","market":"0x","price_changes":[],"timestamp":"0"}'
        batch = "[" + ",".join([frame] * 200) + "]"
        for _ in range(count // 200):
            await asyncio.gather(*(ws.send_text(batch) for ws in subscribers))
        return Response(b"{}")

    async def socket(websocket):
        await websocket.accept()
        subscribers.append(websocket)
        try:
            while True:
                await websocket.receive_text()
        except Exception:
            subscribers.remove(websocket)

    return Starlette(routes=[Route("/order", post, methods=["POST"]), Route("/fanout", fanout, methods=["POST"]),
                             WebSocketRoute("/ws/market", socket)])


def serve_baseline() -> None:
    from paperexchange import Settings
    from paperexchange.server import LISTENING_LINE, bind_socket, uvicorn_server

    sock = bind_socket("127.0.0.1", 0)
    print(f"{LISTENING_LINE}http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn_server(baseline_app(), Settings()).run(sockets=[sock])


class BaselineProcess(PaperExchangeProcess):
    def __init__(self) -> None:
        super().__init__()
        self._args = ["--serve-baseline"]

    def __enter__(self):
        import re
        import subprocess

        self._process = subprocess.Popen([sys.executable, "-m", "bench.exchange", *self._args],
                                         stdout=subprocess.PIPE, text=True)
        line = self._process.stdout.readline()
        self.url = re.search(r"(http://\S+)", line).group(1)
        return self


# ---- posts ---------------------------------------------------------------------------------------

def sign_orders(url: str, count: int):
    """Signed orders from the official client's signer (SecureClient.create_limit_order); returns them,
    the client (for credentials) and the signing rate."""
    from polymarket import SecureClient

    from shared.polymarket.sdk_env import paper_environment

    account = Account.create()
    httpx.post(url + "/_paper/fund", json={"address": account.address, "collateral": "100000000"})
    client = SecureClient.create(private_key=account.key.hex(), wallet=account.address,
                                 environment=paper_environment(url))
    token = httpx.get(url + "/_paper/markets").json()[0]["token_ids"][0]
    client.create_limit_order(asset_id=token, price="0.10", size="10", side="BUY")  # warm the metadata cache
    started = time.perf_counter()
    orders = [client.create_limit_order(asset_id=token, price=f"0.{10 + i % 40}", size="10", side="BUY")
              for i in range(count)]
    return orders, client, count / (time.perf_counter() - started)


def order_body(order, owner: str) -> str:
    return json.dumps({"deferExec": False, "order": {
        "builder": order.builder, "expiration": str(order.expiration), "maker": order.maker,
        "makerAmount": str(order.maker_amount), "metadata": order.metadata, "salt": order.salt,
        "side": order.side, "signature": order.signature, "signatureType": order.signature_type,
        "signer": order.signer, "takerAmount": str(order.taker_amount), "timestamp": str(order.timestamp),
        "tokenId": order.token_id}, "orderType": order.order_type, "owner": owner}, separators=(",", ":"))


async def post_all(url: str, bodies: list[str], headers_for) -> tuple[float, int]:
    """POST every body to /order over CONCURRENCY keep-alive connections; (posts/s, failures).

    A minimal HTTP/1.1 client that writes each request in one piece: httpx writes head and body
    separately, and Nagle plus delayed ACKs then cap a loopback run at a few hundred requests/s.
    """
    host, port = url.removeprefix("http://").split(":")
    queue = list(reversed(bodies))
    failures = 0

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection(host, int(port))
        while queue:
            body = queue.pop().encode()
            head = "".join(f"{k}: {v}\r\n" for k, v in headers_for(body.decode()).items())
            writer.write(f"POST /order HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
                         f"{head}\r\n".encode() + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            failures += b" 200 " not in status
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(bodies) / (time.perf_counter() - started), failures


def l2_headers(client):
    from polymarket._internal.hmac import build_hmac_signature

    creds, address = client._ctx.credentials, client.signer

    def headers(body: str) -> dict:
        timestamp = int(time.time())
        signature = build_hmac_signature(secret=creds.secret, timestamp=timestamp, method="POST", path="/order",
                                         body=body)
        return {"POLY_ADDRESS": address, "POLY_API_KEY": creds.key, "POLY_PASSPHRASE": creds.passphrase,
                "POLY_SIGNATURE": signature, "POLY_TIMESTAMP": str(timestamp), "Content-Type": "application/json"}

    return headers


# ---- events --------------------------------------------------------------------------------------

async def receive(url: str, assets: list[str], expected: int, counts: list[int], index: int,
                  ready: asyncio.Event, done: asyncio.Event, subscribed: list[int]) -> None:
    async with websockets.connect(url + "/ws/market", max_size=None) as ws:
        await ws.send(json.dumps({"type": "market", "assets_ids": assets}))
        subscribed[0] += 1
        if subscribed[0] == SUBSCRIBERS:
            ready.set()
        while counts[index] < expected:
            decoded = orjson.loads(await ws.recv())
            if isinstance(decoded, list):
                counts[index] += sum(1 for e in decoded if e.get("event_type") == "price_change")
            elif isinstance(decoded, dict) and decoded.get("event_type") == "price_change":
                counts[index] += 1
    if all(c >= expected for c in counts):
        done.set()


async def fan_out(ws_url: str, assets: list[str], per_subscriber: int, trigger) -> float:
    counts, subscribed = [0] * SUBSCRIBERS, [0]
    ready, done = asyncio.Event(), asyncio.Event()
    tasks = [asyncio.create_task(receive(ws_url, assets, per_subscriber, counts, i, ready, done, subscribed))
             for i in range(SUBSCRIBERS)]
    await ready.wait()
    await asyncio.sleep(0.2)
    started = time.perf_counter()
    await trigger()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=120)
    return sum(counts) / (time.perf_counter() - started)


async def exchange_events(url: str, count: int) -> float:
    market = httpx.post(url + "/_paper/markets", json={"question": f"bench {time.time()}", "min_order_size": 1}).json()
    yes = market["token_ids"][0]
    # Non-crossing house orders: each one changes one level, i.e. one price_change event.
    orders = [{"token_id": yes, "side": "BUY" if i % 2 else "SELL",
               "price": f"0.{(10 + i % 30) if i % 2 else (60 + i % 30)}", "size": "1"} for i in range(count)]

    async def trigger() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for start in range(0, count, 500):
                (await http.post("/_paper/orders", json=orders[start:start + 500])).raise_for_status()

    return await fan_out(url.replace("http", "ws", 1), [yes], count, trigger)


async def baseline_events(url: str, count: int) -> float:
    async def trigger() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            await http.post("/fanout", params={"count": count})

    return await fan_out(url.replace("http", "ws", 1), ["x"], count, trigger)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.exchange")
    parser.add_argument("--orders", type=int, default=4000)
    parser.add_argument("--events", type=int, default=4000, help="events produced (x10 delivered)")
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_baseline:
        serve_baseline()
        return 0
    print(f"coincurve active: {signing.COINCURVE}; cores: {os.cpu_count()}")
    with PaperExchangeProcess("--admin", "--settlement-delay-secs", "1") as server:
        orders, client, sign_rate = sign_orders(server.url, args.orders)
        bodies = [order_body(order, client._ctx.credentials.key) for order in orders]
        posts_rate, failures = asyncio.run(post_all(server.url, bodies, l2_headers(client)))
        client.close()
        events_rate = asyncio.run(exchange_events(server.url, args.events))
    with BaselineProcess() as baseline:
        bare_posts, _ = asyncio.run(post_all(baseline.url, bodies[: args.orders], lambda body: {}))
        bare_events = asyncio.run(baseline_events(baseline.url, args.events))
    print(f"official client signing:      {sign_rate:9.0f} orders/s")
    print(f"paper exchange POST /order:   {posts_rate:9.0f} posts/s  (failures {failures}; goal >= {POST_GOAL})"
          f"  = {posts_rate / bare_posts:.2f} x bare endpoint, {posts_rate / sign_rate:.2f} x client signing")
    print(f"bare Starlette POST:          {bare_posts:9.0f} posts/s")
    print(f"market channel fan-out (x{SUBSCRIBERS}): {events_rate:9.0f} events/s delivered (goal >= {EVENT_GOAL})"
          f"  = {events_rate / bare_events:.2f} x bare fan-out")
    print(f"bare WebSocket fan-out:       {bare_events:9.0f} events/s delivered")
    return 0


if __name__ == "__main__":
    sys.exit(main())
