"""The monitoring files the project ships (``deploy/``) stay true to the service.

- Every metric an alert rule or a dashboard query reads is one that ``GET /metrics`` of the running app exports, and
  every recording rule they read is defined.
- ``promtool`` accepts the rules, their unit tests (``deploy/prometheus/tests/leadflow_test.yml``: synthetic series
  in, expected alerts out) pass, and every dashboard query parses. Skipped when promtool cannot be had (see
  :mod:`tests.support.promtool`), a failure instead when ``LEADFLOW_TEST_REQUIRE_SERVICES`` is set.
- The dashboard is well formed (data source variable, a data source and queries on every panel) and the Alertmanager
  example sends pages to Telegram and tickets to Slack, each with a cooldown.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Harness
from tests.support import promtool as promtool_support

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "leadflow.yml"
RULE_TESTS = DEPLOY / "prometheus" / "tests" / "leadflow_test.yml"
DASHBOARD = DEPLOY / "grafana" / "leadflow-dashboard.json"
ALERTMANAGER = DEPLOY / "alertmanager" / "alertmanager.yml"

# Series Prometheus makes itself, not the service.
SYNTHETIC = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS", "ALERTS_FOR_STATE"})
SEVERITIES = frozenset({"page", "ticket", "warning"})

# -- PromQL: which metric names an expression reads ------------------------------------------------------------------

_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "bool",
        "offset",
        "inf",
        "nan",
        "atan2",
        # aggregation operators (followed by "(" once a grouping clause is removed, but a "by" may stand between)
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    }
)
_GRAFANA_VARIABLE = re.compile(r"\$\{[^}]*\}|\$\w+|\[\[\w+\]\]")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_RANGE = re.compile(r"\[[^\]]*\]")
_OFFSET = re.compile(r"\boffset\s+-?[\w.]+|@\s*[\w.()]+")
_IDENTIFIER = re.compile(r"(?<![\w:.])([A-Za-z_:][A-Za-z0-9_:]*)(?![\w:])(?!\s*\()")
_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(?P<expr>.*?)\s*,\s*)?\w+\s*\)\s*$", re.DOTALL)


def names_in(expr: str) -> set[str]:
    """The metric and recording-rule names a PromQL expression (or a Grafana ``label_values`` query) reads: functions,
    keywords, label names, strings, durations and Grafana variables left out."""
    if match := _LABEL_VALUES.match(expr):
        expr = match.group("expr") or ""
    text = _GRAFANA_VARIABLE.sub(" ", expr)
    text = _STRING.sub(" ", text)
    text = _MATCHERS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _OFFSET.sub(" ", text)
    return {name for name in _IDENTIFIER.findall(text) if name.lower() not in _KEYWORDS}


def test_names_in_reads_metrics_not_labels_or_functions() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (job, route, le) (rate(http_request_duration_seconds_bucket{route!~"/a|/b",'
        ' job=~"$job"}[$__rate_interval]))) > 0.1 and on () (hour() >= 9) or leadflow:http_errors:ratio_rate5m'
        " unless up offset 30m or sum(leadflow_requests) without (city) * 1e3"
    )
    assert names_in(expr) == {
        "http_request_duration_seconds_bucket",
        "leadflow:http_errors:ratio_rate5m",
        "up",
        "leadflow_requests",
    }
    assert names_in('label_values(http_requests_total{job=~"$job"}, instance)') == {"http_requests_total"}
    assert names_in("label_values(job)") == set()


# -- the shipped files -----------------------------------------------------------------------------------------------


def rule_groups() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    groups: list[dict[str, Any]] = loaded["groups"]
    return groups


def rules() -> list[dict[str, Any]]:
    return [rule for group in rule_groups() for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def panels(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in container.get("panels", []):
        yield panel
        yield from panels(panel)


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every query variable."""
    found = [
        (f"panel {panel.get('title')!r}", str(target["expr"]))
        for panel in panels(dashboard())
        for target in panel.get("targets", [])
        if target.get("expr")
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable.get("type") == "query":
            query = variable["query"]
            found.append((f"variable {variable['name']}", str(query["query"] if isinstance(query, dict) else query)))
    return found


def rule_queries() -> list[tuple[str, str]]:
    return [(f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"])) for rule in rules()]


def exported_names(exposition: str) -> set[str]:
    """Every series name the exposition has or would have: families without samples yet (a labelled metric nothing
    has used) count with the names their type gives them."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
        if family.type == "counter":
            names.update({f"{family.name}_total", f"{family.name}_created"})
        elif family.type in ("histogram", "gaugehistogram"):
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_count", "_sum", "_created"))
        elif family.type == "summary":
            names.update(f"{family.name}{suffix}" for suffix in ("_count", "_sum", "_created"))
        elif family.type == "info":
            names.add(f"{family.name}_info")
    return names


# -- metric names against the running service ------------------------------------------------------------------------


async def test_every_metric_the_rules_and_dashboard_read_is_exported(h: Harness) -> None:
    await h.client.get("/health/live")  # at least one request has been counted
    response = await h.client.get("/metrics")
    assert response.status_code == 200, response.text
    exported = exported_names(response.text)
    assert "http_requests_total" in exported, sorted(exported)

    missing: dict[str, list[str]] = {}
    for where, expr in rule_queries() + dashboard_queries():
        for name in names_in(expr):
            if ":" not in name and name not in exported and name not in SYNTHETIC:
                missing.setdefault(name, []).append(where)
    assert not missing, f"read by the rules or the dashboard but not exported by /metrics: {missing}"


def test_every_recording_rule_read_is_defined() -> None:
    recorded = {str(rule["record"]) for rule in rules() if "record" in rule}
    assert recorded, "no recording rules"
    for name in recorded:
        assert re.fullmatch(r"leadflow:[a-z0-9_]+:[a-z0-9_]+", name), f"{name}: not level:metric:operations"
    undefined = {
        name: where
        for where, expr in rule_queries() + dashboard_queries()
        for name in names_in(expr)
        if ":" in name and name not in recorded
    }
    assert not undefined, f"recording rules read but not defined: {undefined}"


def test_alerts_are_labelled_annotated_and_damped() -> None:
    alerts = [rule for rule in rules() if "alert" in rule]
    names = {str(rule["alert"]) for rule in alerts}
    required = {
        "LeadflowHighErrorRate",
        "LeadflowHighLatencyP95",
        "LeadflowDBPoolSaturated",
        "LeadflowRedisDown",
        "LeadflowJobFailed",
        "LeadflowMailboxUnreachable",
        "LeadflowWebhookBadSignatures",
        "LeadflowRecordingsBacklog",
        "LeadflowNoNewRequests",
        "LeadflowBusinessSnapshotStale",
        "LeadflowErrorBudgetBurn",
    }
    assert required <= names, required - names
    for rule in alerts:
        name = rule["alert"]
        assert rule.get("labels", {}).get("severity") in SEVERITIES, name
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), name
        # A flapping condition does not notify on every evaluation: it must hold (for) or it keeps firing a while.
        assert rule.get("for") or rule.get("keep_firing_for"), f"{name}: neither for nor keep_firing_for"
    burns = [rule for rule in alerts if rule["alert"] == "LeadflowErrorBudgetBurn"]
    assert sorted((r["labels"]["burn_rate"], r["labels"]["severity"]) for r in burns) == [
        ("1", "ticket"),
        ("14.4", "page"),
        ("6", "page"),
    ]


# -- promtool --------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def promtool() -> str:
    binary = promtool_support.promtool()
    if binary is None:
        reason = (
            f"needs promtool (Debian's prometheus package could not be had: {promtool_support.fetch_error.strip()})"
        )
        if os.environ.get("LEADFLOW_TEST_REQUIRE_SERVICES"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def run_promtool(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)


def test_promtool_checks_the_rules(promtool: str) -> None:
    done = run_promtool(promtool, "check", "rules", str(RULES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules())} rules found" in done.stdout, done.stdout


def test_rule_unit_tests_pass(promtool: str) -> None:
    """The error-rate, burn-rate, latency, pool, job-failure and no-new-requests alerts fire on synthetic series."""
    done = run_promtool(promtool, "test", "rules", str(RULE_TESTS))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout, done.stdout


def test_dashboard_queries_parse(promtool: str, tmp_path: Path) -> None:
    """Each dashboard query, with its Grafana variables filled in, checked by promtool as a recording rule."""
    values = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "${DS_PROMETHEUS}": "prometheus"}
    records = []
    for index, (where, expr) in enumerate(dashboard_queries()):
        if variable_query := _LABEL_VALUES.match(expr):
            expr = variable_query.group("expr") or "up"
        for variable, value in values.items():
            expr = expr.replace(variable, value)
        expr = re.sub(r"\$\w+", ".*", expr)  # $job, $instance, $route: used in regex matchers
        records.append({"record": f"dashboard:query_{index}:check", "expr": expr, "labels": {"where": where}})
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": records}]}), encoding="utf-8")
    done = run_promtool(promtool, "check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr


# -- Grafana and Alertmanager ----------------------------------------------------------------------------------------


def test_dashboard_is_well_formed() -> None:
    board = dashboard()
    assert board["schemaVersion"] == 39
    assert board["uid"] and board["title"]
    variables = {variable["name"]: variable for variable in board["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"

    ids: list[int] = []
    titles = set()
    for panel in panels(board):
        ids.append(panel["id"])
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        if panel["type"] == "row":
            continue
        titles.add(panel["title"])
        assert panel.get("datasource") == {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}, panel["title"]
        assert panel.get("targets"), f"{panel['title']}: no queries"
        for target in panel["targets"]:
            assert target.get("expr"), f"{panel['title']}: a target without a query"
            assert target.get("refId"), panel["title"]
            assert target.get("datasource", panel["datasource"])["uid"] == "${DS_PROMETHEUS}", panel["title"]
    assert len(ids) == len(set(ids)), "panel ids repeat"

    read = {name for _, expr in dashboard_queries() for name in names_in(expr)}
    for metric in (
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "http_requests_in_progress",
        "leadflow_db_pool_checked_out",
        "leadflow_db_query_duration_seconds_bucket",
        "leadflow_cache_hits_total",
        "leadflow_redis_up",
        "leadflow_job_runs_total",
        "leadflow_requests",
        "leadflow_recordings",
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
    ):
        assert metric in read, f"no panel reads {metric}"


def _matches(matcher: str, labels: dict[str, str]) -> bool:
    match = re.fullmatch(r'\s*(\w+)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*', matcher)
    assert match, f"cannot read the matcher {matcher!r}"
    name, op, value = match.groups()
    actual = labels.get(name, "")
    if op == "=":
        return actual == value
    if op == "!=":
        return actual != value
    found = re.fullmatch(value, actual) is not None
    return found if op == "=~" else not found


def _route(route: dict[str, Any], labels: dict[str, str], inherited: dict[str, Any]) -> dict[str, Any]:
    """The settings Alertmanager applies to an alert with ``labels``: the first matching child route, recursively
    (``continue`` is not used by the example), each level inheriting its parent's settings."""
    settings = {**inherited, **{k: v for k, v in route.items() if k not in ("routes", "matchers")}}
    for child in route.get("routes", []):
        assert not child.get("continue"), "the example does not use continue"
        if all(_matches(m, labels) for m in child.get("matchers", [])):
            return _route(child, labels, settings)
    return settings


def _seconds(duration: str) -> int:
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    return sum(int(n) * units[u] for n, u in re.findall(r"(\d+)([smhd])", duration))


def test_alertmanager_routes_pages_to_telegram_and_tickets_to_slack() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text(encoding="utf-8"))
    receivers = {receiver["name"]: receiver for receiver in config["receivers"]}
    root = config["route"]
    assert {"alertname", "severity"} <= set(root["group_by"])

    page = _route(root, {"alertname": "LeadflowHighErrorRate", "severity": "page"}, {})
    telegram = receivers[page["receiver"]].get("telegram_configs")
    assert telegram, f"pages go to {page['receiver']}, which has no telegram_configs"
    assert telegram[0].get("chat_id") and (telegram[0].get("bot_token_file") or telegram[0].get("bot_token"))
    assert _seconds(page["repeat_interval"]) >= 3600

    for severity in ("ticket", "warning"):
        ticket = _route(root, {"alertname": "LeadflowJobFailed", "severity": severity}, {})
        slack = receivers[ticket["receiver"]].get("slack_configs")
        assert slack, f"{severity} goes to {ticket['receiver']}, which has no slack_configs"
        assert slack[0].get("channel") and (slack[0].get("api_url_file") or slack[0].get("api_url"))
        assert _seconds(ticket["repeat_interval"]) >= _seconds(page["repeat_interval"])
        assert _seconds(ticket["group_interval"]) > 0

    # A page of an alert silences its ticket (LeadflowErrorBudgetBurn fires at both).
    assert any(
        any(_matches(m, {"severity": "page"}) for m in rule.get("source_matchers", []))
        and all(_matches(m, {"severity": "ticket"}) for m in rule.get("target_matchers", []))
        and "alertname" in rule.get("equal", [])
        for rule in config.get("inhibit_rules", [])
    ), config.get("inhibit_rules")

    # Every severity an alert rule uses reaches a receiver that exists.
    for rule in rules():
        if "alert" in rule:
            labels = {"alertname": str(rule["alert"]), "severity": str(rule["labels"]["severity"])}
            assert _route(root, labels, {})["receiver"] in receivers, rule["alert"]
