"""Writes bpbot-dashboard.json (an example Grafana dashboard) from the panels below.

Run `python deploy/grafana/make_dashboard.py` after changing a panel; the JSON is what
Grafana imports (Dashboards -> New -> Import), with a Prometheus data source to pick.
"""

import json
from pathlib import Path

PANELS = [
    # (title, unit, [(expression, legend)], width)
    ("Messages per second, by language", "reqps",
     [("sum by (language) (rate(bpbot_messages_total[5m]))", "{{language}}")], 12),
    ("Answer time (95th and 50th percentile)", "s",
     [("histogram_quantile(0.95, sum by (le) (rate(bpbot_message_seconds_bucket[5m])))", "p95"),
      ("histogram_quantile(0.5, sum by (le) (rate(bpbot_message_seconds_bucket[5m])))", "p50")],
     12),
    ("Enquiries routed per hour, by unit", "short",
     [("sum by (unit) (increase(bpbot_enquiries_routed_total[1h]))", "{{unit}}")], 12),
    ("Share of messages the NLU was unsure about", "percentunit",
     [("sum(rate(bpbot_fallbacks_total[15m])) / sum(rate(bpbot_messages_total[15m]))",
       "fallback share")], 12),
    ("Outbox (failed: a unit did not get its e-mail; `bpbot outbox retry`)", "short",
     [("max by (status) (bpbot_outbox_messages)", "{{status}}")], 12),
    ("Model per process (all should agree)", "short",
     [("count by (model_id) (bpbot_model_info == 1)", "{{model_id}}")], 12),
    ("Top intents per hour", "short",
     [("topk(10, sum by (intent) (increase(bpbot_intents_total[1h])))", "{{intent}}")], 12),
    ("Software version per process", "short",
     [("count by (version) (bpbot_build_info)", "{{version}}")], 12),
]


def dashboard() -> dict:
    """The dashboard as Grafana's JSON model."""
    panels = []
    for n, (title, unit, targets, width) in enumerate(PANELS):
        panels.append({
            "id": n + 1, "type": "timeseries", "title": title,
            "datasource": {"type": "prometheus", "uid": "${datasource}"},
            "gridPos": {"h": 8, "w": width, "x": (n % 2) * 12, "y": (n // 2) * 8},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": [{"expr": expr, "legendFormat": legend, "refId": chr(65 + i)}
                        for i, (expr, legend) in enumerate(targets)],
        })
    return {
        "title": "Business Porvoo assistant",
        "uid": "bpbot",
        "schemaVersion": 39,
        "time": {"from": "now-24h", "to": "now"},
        "refresh": "1m",
        "tags": ["bpbot"],
        "templating": {"list": [{"name": "datasource", "type": "datasource",
                                 "query": "prometheus", "label": "Prometheus"}]},
        "panels": panels,
    }


if __name__ == "__main__":
    target = Path(__file__).with_name("bpbot-dashboard.json")
    target.write_text(json.dumps(dashboard(), indent=2) + "\n")
    print(f"wrote {target}")
