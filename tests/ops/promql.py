"""Reading PromQL well enough to list the metric names, label names and functions an expression uses."""

from __future__ import annotations

import ast
import re
from pathlib import Path

# Prometheus's own series that a dashboard or alert may read besides shared/metrics.py.
PROMETHEUS_BUILTINS = frozenset({"up"})
BUILTIN_LABELS = frozenset({"job", "instance"})

AGGREGATIONS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
})
FUNCTIONS = AGGREGATIONS | frozenset({
    "abs", "absent", "absent_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "day_of_month",
    "day_of_week", "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor", "histogram_avg",
    "histogram_count", "histogram_fraction", "histogram_quantile", "histogram_stddev", "histogram_stdvar",
    "histogram_sum", "holt_winters", "hour", "idelta", "increase", "irate", "label_join", "label_replace", "ln",
    "log10", "log2", "minute", "month", "predict_linear", "rate", "resets", "round", "scalar", "sgn", "sort",
    "sort_desc", "sqrt", "time", "timestamp", "vector", "year", "avg_over_time", "min_over_time",
    "max_over_time", "sum_over_time", "count_over_time", "quantile_over_time", "stddev_over_time",
    "stdvar_over_time", "last_over_time", "present_over_time",
})
KEYWORDS = frozenset({"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                      "offset", "bool", "atan2", "inf", "nan"})

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_VARIABLE = re.compile(r"\$\{?\w+(?::\w+)?\}?")  # Grafana's $__rate_interval, ${var}
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENT = re.compile(r"(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")


def _prepare(expr: str) -> str:
    text = _STRING.sub('""', expr)
    return _VARIABLE.sub("1m", text)


def parse(expr: str) -> tuple[set[str], set[str], dict[str, set[str]], set[str]]:
    """(metric names, called functions, label names matched per metric ('' when bare), grouping labels)."""
    text = _prepare(expr)
    matched: dict[str, set[str]] = {}
    for selector in _SELECTOR.finditer(text):
        matched.setdefault(selector.group(1) or "", set()).update(_MATCHER.findall(selector.group(2)))
    grouping = {label.strip() for m in _GROUPING.finditer(text) for label in m.group(2).split(",") if label.strip()}
    bare = _GROUPING.sub(" ", _SELECTOR.sub(lambda m: f" {m.group(1) or ''} ", text))
    bare = re.sub(r"\[[^\]]*\]", " ", bare)  # ranges and subqueries
    bare = re.sub(r"\boffset\s+\S+", " ", bare)
    metrics: set[str] = set()
    calls: set[str] = set()
    for match in _IDENT.finditer(bare):
        name, call = match.group(1), match.group(2)
        if call:
            calls.add(name)
        elif name.lower() not in KEYWORDS:
            metrics.add(name)
    return metrics, calls, matched, grouping


def declared_labels(metrics_source: Path) -> dict[str, set[str]]:
    """Metric base name (with the namespace) -> its declared label names, read from shared/metrics.py."""
    tree = ast.parse(metrics_source.read_text())
    namespace = "polydesk"
    labels: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in {"Counter", "Gauge", "Histogram"}):
            continue
        name = ast.literal_eval(node.args[0])
        names_node = node.args[2] if len(node.args) > 2 else next(
            (k.value for k in node.keywords if k.arg == "labelnames"), None)
        labels[f"{namespace}_{name}"] = set(ast.literal_eval(names_node)) if names_node is not None else set()
    return labels


SAMPLE_SUFFIXES = {"Counter": ("_total", "_created"), "Gauge": ("",),
                   "Histogram": ("_bucket", "_sum", "_count", "_created")}


def declared_kinds(metrics_source: Path) -> dict[str, str]:
    """Metric base name (with the namespace) -> Counter, Gauge or Histogram, read from shared/metrics.py."""
    return {f"polydesk_{ast.literal_eval(node.args[0])}": node.func.id
            for node in ast.walk(ast.parse(metrics_source.read_text()))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in SAMPLE_SUFFIXES}


def base_name(sample: str) -> str:
    for suffix in ("_bucket", "_count", "_sum", "_total", "_created"):
        if sample.endswith(suffix):
            return sample[: -len(suffix)]
    return sample
