"""Prometheus metrics. Under several gunicorn workers ``PROMETHEUS_MULTIPROC_DIR`` is set (by
``serve``) and every worker writes its own files that ``/metrics`` adds up."""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

RECORDS = Counter("myna_receiver_records_total", "Records taken in, by outcome",
                  ["outcome"])  # accepted | rejected | duplicate | conflict | refused
VERIFY_SECONDS = Histogram("myna_receiver_verification_seconds",
                           "Time to re-verify one record's evidence",
                           buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0))


def exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
