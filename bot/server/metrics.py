"""Prometheus metrics of the assistant."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
MESSAGES = Counter("bpbot_messages_total", "User messages handled", ["channel", "language"],
                   registry=REGISTRY)
INTENTS = Counter("bpbot_intents_total", "Recognised intents", ["intent"], registry=REGISTRY)
FALLBACKS = Counter("bpbot_fallbacks_total", "Messages the NLU was unsure about",
                    registry=REGISTRY)
ENQUIRIES = Counter("bpbot_enquiries_routed_total", "Enquiries submitted, per unit", ["unit"],
                    registry=REGISTRY)
LATENCY = Histogram("bpbot_message_seconds", "Time to answer one message", ["channel"],
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
                    registry=REGISTRY)

# Read from the database when scraped: the same in every process.
OUTBOX = Gauge("bpbot_outbox_messages", "Notifications in the outbox, per status (failed: "
               "gave up; `bpbot outbox retry` queues them again)", ["status"], registry=REGISTRY)
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
MODEL = Gauge("bpbot_model_info", "The model this process answers with (1)", ["model_id"],
              registry=REGISTRY)


def set_model(model_id: str, previous: str | None = None) -> None:
    """Show the process's model id in /metrics."""
    if previous is not None and previous != model_id:
        try:
            MODEL.remove(previous)
        except KeyError:
            pass
    MODEL.labels(model_id).set(1)
