"""`polydesk bench`'s report from measured figures: every goal with its ratio and met / NOT met, the hop
table, and the profile summary (no speed is asserted: the figures here are made up)."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.__main__ import HOP_SERVICE, _parse, report, slowest_hop
from bench.pipeline import HOPS, PipelineRun
from bench.profile_report import summary

MS = 1_000_000


def _run(rate: float, hop_ms: list[float]) -> PipelineRun:
    run = PipelineRun(rate, 10.0, generated=int(rate * 10), generated_rate=rate, triggers=3, orders=3, joined=3,
                      drain_secs=0.2, events_published=int(rate * 10), backlog=[(1.0, 0.0, 0), (2.0, 5.0, 0)])
    run.hops = {hop: [int(ms * MS)] * 3 for hop, ms in zip(HOPS, hop_ms, strict=True)}
    run.to_post = [int(sum(hop_ms[:4]) * MS)] * 3
    run.e2e = [int(sum(hop_ms) * MS)] * 3
    return run


def test_the_report_judges_every_goal_and_shows_the_hops() -> None:
    args: argparse.Namespace = _parse(["--quick"])
    bare = {args.rate: {"n": 10, "p50": 1.0, "p99": 2.0, "max": 3.0},
            args.sustain_rate: {"n": 10, "p50": 2.0, "p99": 4.0, "max": 5.0}}
    runs = {"latency": (50, _run(args.rate, [0.5, 0.5, 0.5, 0.5, 1.0])),
            "sustained": (100, _run(args.sustain_rate, [1.0, 1.0, 1.0, 50.0, 1.0]))}
    pipeline = {"runs": runs, "memory": {"ingest": 120.0, "executor": 160.0, "paper exchange (not a service)": 300.0},
                "steady": {"ingest": 100.0, "executor": 110.0}, "ready": 40, "profile": None}
    executor = {"orders": 100, "placed": 100, "rate": 600.0, "secs": 0.17, "cpu_rate": 900.0, "sign_rate": 1000.0,
                "first_ms": 0.5, "tenth_ms": 0.5, "commit_ms": 3.0}
    goals, sections = report({"date": "today"}, 962, bare, pipeline, executor, [], None, args)
    verdicts = {g.name.split(" (")[0]: g.met for g in goals}
    assert verdicts[f"tick to POST p50 at {args.rate:,.0f}/s vs the bare chain"] is True  # 2.0 ms / 1.0 ms <= 2.5x
    assert verdicts[f"tick to POST p99 at {args.sustain_rate:,.0f}/s sustained vs the bare chain"] is False
    assert verdicts["executor: orders signed, persisted and posted per second"] is True
    assert verdicts[f"every service's RSS with 40 subscribed tokens, after the {args.rate:,.0f}/s run"] is True
    assert verdicts[f"every service's RSS with 40 subscribed tokens, after {args.sustain_seconds:.0f} s at "
                    f"{args.sustain_rate:,.0f}/s"] is False  # the executor's 160 MB
    text = "\n\n".join(sections)
    assert "NOT met" in text and " met [" in text and "hop: risk -> executor" in text
    assert slowest_hop(runs) == HOPS[3] and HOP_SERVICE[HOPS[3]] == "executor"


def test_the_profile_summary_counts_the_service_at_work(tmp_path: Path) -> None:
    profile = tmp_path / "executor.collapsed"
    loop = "<module> (services/executor/__main__.py:10);run (asyncio/runners.py:118);_run (asyncio/events.py:80)"
    profile.write_text(
        f"{loop};sign (services/executor/venue.py:331);keccak (eth_utils/crypto.py:15) 30\n"
        f"{loop};sign (services/executor/venue.py:340) 10\n"
        f"{loop};post (services/executor/submitter.py:250) 60\n"
        f"<module> (services/executor/__main__.py:10);_find_and_load (<frozen importlib._bootstrap>:1176) 500\n")
    rows = {frame: (share, under) for share, frame, under in summary(profile)}
    assert rows["sign (executor/venue.py)"][0] == 0.4  # both lines of one function, start-up left out
    assert rows["post (executor/submitter.py)"][0] == 0.6
    assert rows["keccak (eth_utils/crypto.py)"] == (0.3, "sign (executor/venue.py)")
