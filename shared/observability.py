"""Powertools logger and metrics shared by every function. Never log identifiers or message text at INFO."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

# Not named like the Chalice app ("sampark"), or Chalice's own logger would print every line twice.
logger = Logger(service="sampark-service")
metrics = Metrics(namespace="Sampark", service="sampark-service")


def count(metric: str, value: int = 1) -> None:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=value)
