"""Smoke tests of the bench's pure helpers (no timing is asserted anywhere)."""

from __future__ import annotations

import math

from bench.pipeline import (
    cpu_model,
    markdown_table,
    mem_total_gb,
    percentile,
    ratio,
    sample_delta,
    summarize_ms,
    vm_rss_kb,
)
from shared.messages import decode, encode


def test_percentile_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.5) == 51
    assert percentile(values, 0.99) == 100
    assert percentile([7], 0.99) == 7
    assert math.isnan(percentile([], 0.5))


def test_summarize_ms_converts_ns() -> None:
    summary = summarize_ms([1_000_000, 2_000_000, 3_000_000])
    assert summary["n"] == 3 and summary["p50"] == 2.0 and summary["max"] == 3.0
    assert math.isnan(summarize_ms([])["p50"])


def test_proc_parsing() -> None:
    status = "Name:\tpython\nVmPeak:\t  200000 kB\nVmRSS:\t   51200 kB\nThreads:\t3\n"
    assert vm_rss_kb(status) == 51200
    assert vm_rss_kb("Name:\tx\n") is None
    assert cpu_model("processor\t: 0\nmodel name\t: AMD EPYC 7B13\n") == "AMD EPYC 7B13"
    assert cpu_model("") == "unknown"
    assert mem_total_gb("MemTotal:       8388608 kB\n") == 8.0


def test_markdown_table_and_ratio() -> None:
    table = markdown_table(["what", "p50"], [["bare", 0.25], ["ours", float("nan")]])
    assert table.splitlines()[0] == "| what | p50 |"
    assert "| bare | 0.25 |" in table and "| ours | n/a |" in table
    assert ratio(3.0, 1.5) == 2.0
    assert math.isnan(ratio(1.0, 0.0))


def test_sample_delta_is_a_valid_message() -> None:
    message = sample_delta()
    assert decode(encode(message)) == message
