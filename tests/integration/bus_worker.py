"""A consumer process for crash tests: reads `in`, writes one `out` message per input, slowly.

Run: python -m tests.integration.bus_worker URL PREFIX CONSUMER_NAME [--delay-ms N] [--idle-ms N]
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from shared.messages import Envelope, ExternalSignal, replace
from shared.redis_conn import connect
from shared.streams import Bus, Delivery, Output


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("name")
    parser.add_argument("--delay-ms", type=float, default=2.0)
    parser.add_argument("--idle-ms", type=int, default=500)
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()
    client = connect(args.url)
    bus = Bus(client, prefix=args.prefix, producer=args.name)

    async def handle(delivery: Delivery) -> list[Output]:
        await asyncio.sleep(args.delay_ms / 1000)
        source = delivery.message
        assert isinstance(source, ExternalSignal)
        echo = replace(source, envelope=Envelope.new(args.name, cause=source), source=args.name)
        return [Output("out", echo)]

    consumer = bus.consumer("in", "workers", args.name, handle, batch_size=args.batch, block_ms=200,
                            claim_min_idle_ms=args.idle_ms, claim_interval_secs=args.idle_ms / 1000 / 2,
                            trim_interval_secs=None)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, consumer.stop)
    await consumer.run()
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
