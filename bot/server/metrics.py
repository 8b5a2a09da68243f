"""Prometheus metrics of the assistant.

Across processes and hosts: each `bpbot serve` process (a systemd instance, a container) is
its own scrape target, and dashboards sum over them (Prometheus labels each with its
`instance`). The workers of one `bpbot serve --workers N` share a port, so a scrape reaches
any one of them: there `bpbot serve` runs prometheus_client's multiprocess mode (a fresh
PROMETHEUS_MULTIPROC_DIR), and every worker's /metrics answers for all of them (counters
summed, the model id per worker `pid`).
"""

from __future__ import annotations

import os
import platform
import re
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from bot import __version__

#: Set by `bpbot serve --workers N` (N > 1) before the workers start.
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
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
               "gave up; `bpbot outbox retry` queues them again)", ["status"], registry=REGISTRY,
               multiprocess_mode="mostrecent")
OUTBOX_STATUSES = ("pending", "sending", "sent", "failed")
MODEL = Gauge("bpbot_model_info", "The model this process answers with (1)", ["model_id"],
              registry=REGISTRY, multiprocess_mode="liveall")
BUILD = Gauge("bpbot_build_info", "The software this process runs (1)",
              ["version", "python"], registry=REGISTRY, multiprocess_mode="max")
BUILD.labels(__version__, platform.python_version()).set(1)


def set_model(model_id: str, previous: str | None = None) -> None:
    """Show the process's model id in /metrics."""
    if previous is not None and previous != model_id:
        if MULTIPROCESS:  # a worker's file keeps every label it wrote: 0 marks the old one
            MODEL.labels(previous).set(0)
        else:
            try:
                MODEL.remove(previous)
            except KeyError:
                pass
    MODEL.labels(model_id).set(1)


def exposition() -> bytes:
    """The text /metrics answers: this process's metrics, or every worker's."""
    if MULTIPROCESS:
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return bytes(generate_latest(registry))
    return bytes(generate_latest(REGISTRY))


def process_exit() -> None:
    """A worker that stops takes its live gauges (its model id) out of the sum."""
    if MULTIPROCESS:
        mark_process_dead(os.getpid())


def forget_dead_workers() -> None:
    """Take the live gauges of workers that died without stopping (killed) out of the sum.

    Called when a worker starts: uvicorn starts a new one in place of a dead one.
    """
    if not MULTIPROCESS:
        return
    pids = {int(m.group(1)) for path in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob(
        "*.db") if (m := re.search(r"_(\d+)\.db$", path.name))}
    for pid in pids - {os.getpid()}:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            mark_process_dead(pid)
        except PermissionError:  # alive, another user's
            pass
