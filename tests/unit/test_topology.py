"""The stream topology is declared once (shared/topology.py): docs/architecture.md's table says the same,
every message type it names is registered, and the services use the group names it declares."""

from __future__ import annotations

import re
from pathlib import Path

from shared import topology
from shared.messages import REGISTRY

DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture.md"
TICKED = re.compile(r"`([^`]+)`")


def doc_table() -> dict[str, dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not cells[0].startswith("`") or cells[0].startswith("`polydesk"):
            continue
        groups = dict(re.findall(r"`([^`]+)` \((\w+)\)", cells[2]))
        rows[TICKED.findall(cells[0])[0]] = {
            "producers": tuple(TICKED.findall(cells[1])), "groups": groups,
            "messages": tuple(TICKED.findall(cells[3])),
        }
    return rows


def test_the_architecture_table_is_the_declared_topology():
    declared = {s.name: {"producers": s.producers, "groups": s.groups, "messages": s.messages}
                for s in topology.STREAMS}
    assert doc_table() == declared


def test_every_message_type_on_a_stream_is_registered_and_every_registered_type_has_a_stream():
    registered = {type_name for type_name, _ in REGISTRY}
    on_streams = {m for spec in topology.STREAMS for m in spec.messages}
    assert on_streams <= registered
    assert registered <= on_streams, f"registered but on no stream: {sorted(registered - on_streams)}"


def test_the_services_read_with_the_groups_the_topology_declares():
    from services.executor.service import GROUP as EXECUTOR_GROUP
    from services.risk.service import GROUP as RISK_GROUP
    from services.risk.service import MARKS_GROUP
    from services.strategy.service import group_name

    assert topology.inputs_of("risk") == {"events:<shard>": (MARKS_GROUP,), "intents": (RISK_GROUP,),
                                          "fills": (RISK_GROUP,), "control": (RISK_GROUP,)}
    assert topology.inputs_of("executor") == {"approved_orders": (EXECUTOR_GROUP,), "control": (EXECUTOR_GROUP,)}
    strategy_group = group_name(topology.SHARD)
    assert topology.inputs_of("strategy") == {"events:<shard>": (strategy_group,), "signals": (strategy_group,),
                                              "fills": (strategy_group,)}
    assert topology.inputs_of("ingest") == {}
    from services.notifier.service import GROUP as NOTIFIER_GROUP

    assert topology.inputs_of("notifier") == {"fills": (NOTIFIER_GROUP,), "control": (NOTIFIER_GROUP,),
                                              "verdicts": (NOTIFIER_GROUP,)}
    assert topology.outputs_of("notifier") == ("signals",)
    assert topology.outputs_of("strategy") == ("intents", "verdicts")
    assert set(topology.outputs_of("ingest")) == {"events:<shard>", "control"}
