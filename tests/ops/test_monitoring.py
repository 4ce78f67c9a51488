"""Prometheus alert rules and the Grafana dashboard read only metrics that shared/metrics.py declares."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from shared.metrics import declared_metric_names
from tests.ops.promql import (
    AGGREGATIONS,
    BUILTIN_LABELS,
    FUNCTIONS,
    PROMETHEUS_BUILTINS,
    SAMPLE_SUFFIXES,
    base_name,
    declared_kinds,
    declared_labels,
    parse,
)

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "prometheus" / "alerts.yml"
PROMETHEUS = ROOT / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "grafana" / "dashboards" / "polydesk.json"
DATASOURCES = ROOT / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDERS = ROOT / "grafana" / "provisioning" / "dashboards" / "polydesk.yml"
COMPOSE = ROOT / "docker-compose.yml"
SERVICES = ("ingest", "strategy", "risk", "executor")
DURATION = re.compile(r"^(\d+(ms|s|m|h|d|w|y))+$")


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def dashboard_exprs() -> list[tuple[str, str]]:
    """(where, expr) of every panel target and every Prometheus annotation."""
    board = dashboard()
    found = [(f"panel {p['title']!r}", t["expr"]) for p in board["panels"] for t in p.get("targets", [])]
    found += [(f"annotation {a['name']!r}", a["expr"]) for a in board["annotations"]["list"] if "expr" in a]
    return found


def all_exprs() -> list[tuple[str, str]]:
    return [(f"alert {r['alert']}", r["expr"]) for r in alert_rules()] + dashboard_exprs()


LABELS = declared_labels(ROOT / "shared" / "metrics.py")


def labels_of(sample: str) -> set[str]:
    if sample in PROMETHEUS_BUILTINS:
        return set(BUILTIN_LABELS)
    return LABELS.get(sample, LABELS.get(base_name(sample), set())) | BUILTIN_LABELS


# ---- the extractor itself ---------------------------------------------------------------------------------

def test_extractor_finds_metrics_and_skips_functions_labels_and_durations():
    metrics, calls, matched, grouping = parse(
        'histogram_quantile(0.99, sum by (le, hop) (rate(polydesk_hop_latency_seconds_bucket{hop=~"a->b"}[$__rate_interval])))'
        ' > on() -1e-3 * max(polydesk_bogus_total offset 5m) and up{job="risk"} == 0 or vector(1)'
    )
    assert metrics == {"polydesk_hop_latency_seconds_bucket", "polydesk_bogus_total", "up"}
    assert calls == {"histogram_quantile", "sum", "rate", "max", "vector"}
    assert matched == {"polydesk_hop_latency_seconds_bucket": {"hop"}, "up": {"job"}}
    assert grouping == {"le", "hop"}


def test_declared_labels_are_read_from_shared_metrics():
    assert LABELS["polydesk_hop_latency_seconds"] == {"hop"}
    assert LABELS["polydesk_stream_lag_entries"] == {"stream", "group"}
    assert LABELS["polydesk_tick_to_order_seconds"] == set()
    assert {n for n in LABELS} <= {base_name(n) for n in declared_metric_names()} | set(LABELS)


# ---- every metric, function and label used is real ----------------------------------------------------------

@pytest.mark.parametrize(("where", "expr"), all_exprs())
def test_every_metric_is_declared_in_shared_metrics(where, expr):
    metrics, calls, _, _ = parse(expr)
    assert metrics, f"{where}: no metric in {expr!r}"
    undeclared = metrics - declared_metric_names() - PROMETHEUS_BUILTINS
    assert not undeclared, f"{where} reads {sorted(undeclared)}, which shared/metrics.py does not declare"
    unknown_calls = calls - FUNCTIONS
    assert not unknown_calls, f"{where} calls {sorted(unknown_calls)}, not PromQL functions"


KINDS = declared_kinds(ROOT / "shared" / "metrics.py")


@pytest.mark.parametrize(("where", "expr"), all_exprs())
def test_every_sample_name_fits_its_metric_type(where, expr):
    """declared_metric_names() allows every suffix on every metric; a gauge has no _bucket, a counter no bare name."""
    for sample in parse(expr)[0] - PROMETHEUS_BUILTINS:
        kind = KINDS.get(sample) or KINDS[base_name(sample)]
        assert any(sample == base_name(sample) + suffix if suffix else sample in KINDS
                   for suffix in SAMPLE_SUFFIXES[kind]), f"{where}: {sample} is not a sample of a {kind}"


@pytest.mark.parametrize(("where", "expr"), all_exprs())
def test_every_label_is_one_the_metric_has(where, expr):
    metrics, _, matched, grouping = parse(expr)
    for metric, keys in matched.items():
        assert metric, f"{where}: a selector without a metric name"
        assert keys <= labels_of(metric), f"{where}: {metric} has no label(s) {sorted(keys - labels_of(metric))}"
    available = set().union(*(labels_of(m) for m in metrics)) | (
        {"le"} if any(m.endswith("_bucket") for m in metrics) else set())
    assert grouping <= available, f"{where}: grouping by {sorted(grouping - available)}, which no metric has"


def test_histogram_quantiles_read_buckets_by_le():
    for where, expr in all_exprs():
        if "histogram_quantile" in expr:
            metrics, _, _, grouping = parse(expr)
            assert all(m.endswith("_bucket") for m in metrics), where
            assert "le" in grouping, where


# ---- alert rules ----------------------------------------------------------------------------------------------

def test_alert_file_has_the_prometheus_rule_structure():
    document = yaml.safe_load(ALERTS.read_text())
    assert set(document) == {"groups"}
    names = [g["name"] for g in document["groups"]]
    assert len(names) == len(set(names)) and all(names)
    for group in document["groups"]:
        assert set(group) <= {"name", "interval", "rules", "limit"}
        assert group["rules"], group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "keep_firing_for", "labels", "annotations"}, rule
            assert isinstance(rule["alert"], str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
            assert isinstance(rule["expr"], str) and rule["expr"].strip()
            assert rule["expr"].count("(") == rule["expr"].count(")"), rule["alert"]
            assert DURATION.match(str(rule["for"])), rule["alert"]
            assert rule["labels"]["severity"] in {"critical", "warning"}
            assert {"summary", "description"} <= set(rule["annotations"])
            for text in rule["annotations"].values():
                assert text.count("{{") == text.count("}}"), rule["alert"]
    alerts = [r["alert"] for r in alert_rules()]
    assert len(alerts) == len(set(alerts))


@pytest.mark.parametrize(("alert", "must_read"), [
    ("PolydeskKillSwitchTripped", {"polydesk_kill_switch_active"}),
    ("PolydeskKillSwitchUnknown", {"polydesk_kill_switch_active"}),
    ("PolydeskStreamLagHigh", {"polydesk_stream_lag_entries"}),
    ("PolydeskServiceDown", {"up"}),
    ("PolydeskMarketFeedStale", {"polydesk_ingest_stale_books"}),
    ("PolydeskDailyLossNearLimit", {"polydesk_daily_pnl_usd", "polydesk_max_daily_loss_usd"}),
])
def test_the_issue_alerts_exist_and_read_the_right_metrics(alert, must_read):
    rule = next((r for r in alert_rules() if r["alert"] == alert), None)
    assert rule is not None, f"no alert {alert}"
    assert must_read <= parse(rule["expr"])[0]


def test_service_down_alert_covers_every_scraped_service():
    rule = next(r for r in alert_rules() if r["alert"] == "PolydeskServiceDown")
    jobs = {job["job_name"] for job in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]}
    for service in SERVICES:
        assert service in rule["expr"] and service in jobs


# ---- prometheus.yml against docker-compose.yml ------------------------------------------------------------------

def test_prometheus_scrapes_every_service_on_the_compose_metrics_port_and_loads_the_rules():
    config = yaml.safe_load(PROMETHEUS.read_text())
    compose = yaml.safe_load(COMPOSE.read_text())
    port = compose["services"]["ingest"]["environment"]["POLYDESK_METRICS_PORT"]
    targets = {job["job_name"]: [t for s in job["static_configs"] for t in s["targets"]]
               for job in config["scrape_configs"]}
    for service in SERVICES:
        assert f"{service}:{port}" in targets[service]
    mounts = compose["services"]["prometheus"]["volumes"]
    for rule_file in config["rule_files"]:
        assert any(m.split(":")[1] == rule_file and m.endswith(":ro") for m in mounts), rule_file
    assert any(m.startswith("./prometheus/alerts.yml:") for m in mounts)


# ---- Grafana ----------------------------------------------------------------------------------------------------

def test_dashboard_is_an_importable_grafana_dashboard():
    board = dashboard()
    assert board["uid"] and board["title"] and 36 <= board["schemaVersion"] <= 41
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids))
    datasource = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24 and grid["h"] > 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["type"] in {"timeseries", "stat", "heatmap", "gauge", "table", "bargauge"}
        assert panel["targets"], panel["title"]
        for target in [panel, *panel["targets"]]:
            assert target["datasource"] == {"type": "prometheus", "uid": datasource["uid"]}, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_dashboard_panels_do_not_overlap():
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard()["panels"]:
        g = panel["gridPos"]
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
                cells[(x, y)] = panel["title"]


def test_dashboard_shows_what_the_issue_asks_for():
    used = set().union(*(parse(e)[0] for _, e in dashboard_exprs()))
    grouped = {m: set() for m in used}
    for _, expr in dashboard_exprs():
        metrics, _, _, grouping = parse(expr)
        for m in metrics:
            grouped[m] |= grouping
    assert "hop" in grouped["polydesk_hop_latency_seconds_bucket"]  # latency by hop
    assert "polydesk_tick_to_order_seconds_bucket" in used  # end to end
    assert "stream" in grouped["polydesk_messages_published_total"]  # throughput per stream
    assert {"stream", "group"} <= grouped["polydesk_stream_lag_entries"]
    assert {"stream", "group"} <= grouped["polydesk_stream_pending_entries"]
    assert "kind" in grouped["polydesk_daily_pnl_usd"]  # realized and unrealized
    assert "polydesk_exposure_usd" in used
    assert "outcome" in grouped["polydesk_executor_orders_total"]
    assert "status" in grouped["polydesk_executor_fills_total"]
    assert "rule" in grouped["polydesk_risk_rejections_total"]
    assert {"polydesk_kill_switch_active", "polydesk_service_up", "up"} <= used
    heatmaps = [p for p in dashboard()["panels"] if p["type"] == "heatmap"]
    assert any("polydesk_tick_to_order_seconds_bucket" in t["expr"] and t.get("format") == "heatmap"
               for p in heatmaps for t in p["targets"])


def test_kill_switch_changes_are_annotations():
    exprs = [a["expr"] for a in dashboard()["annotations"]["list"] if a.get("enable") and "expr" in a]
    assert exprs and all("changes(polydesk_kill_switch_active[" in e for e in exprs)


def test_grafana_provisioning_matches_the_compose_mounts():
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    mounts = {m.split(":")[0]: m.split(":")[1] for m in compose["volumes"] if m.startswith("./")}
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    provider = yaml.safe_load(DASHBOARD_PROVIDERS.read_text())["providers"][0]
    assert provider["type"] == "file" and provider["options"]["path"] == mounts["./grafana/dashboards"]
    datasource = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]
    assert datasource["type"] == "prometheus" and datasource["url"] == "http://prometheus:9090"
    assert compose["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"].startswith(mounts["./grafana/dashboards"])


def test_aggregations_are_functions():
    assert AGGREGATIONS <= FUNCTIONS
