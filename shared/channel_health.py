"""Channel health: can each configured platform still deliver tips to us? Checked on a schedule, made alarmable.

A platform can stop delivering without a single failed request on our side: a WhatsApp token expires, Meta
unsubscribes the Page after its webhook kept failing, X marks the webhook invalid after a failed CRC. For each
configured channel this asks the platform once and emits ``ChannelHealthy`` (1 or 0, dimension ``Channel``); a
failing channel also logs a WARNING with the reason. A channel without credentials is ``not_configured``: no metric.

SMS is not checked: it has no token to expire and no webhook to lose (AWS delivers inbound SMS through SNS), so
there is nothing cheap to ask that a failure would not already show as errors of receive_sms.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from enum import StrEnum

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from shared import config
from shared.domain import Channel
from shared.errors import ConfigurationError
from shared.observability import logger, metrics

METRIC_NAME = "ChannelHealthy"
DIMENSION_NAME = "Channel"

# The settings without which a channel receives nothing at all: with any missing, it is not configured.
_REQUIRED_SETTINGS: dict[Channel, tuple[str, ...]] = {
    Channel.WHATSAPP: ("WHATSAPP_ACCESS_TOKEN", "WHATSAPP_PHONE_NUMBER_ID"),
    Channel.MESSENGER: ("MESSENGER_PAGE_ID", "MESSENGER_PAGE_ACCESS_TOKEN"),
    Channel.X: ("X_CONSUMER_SECRET", "X_ACCOUNT_ID"),
}
# Read by the checks when present (META_APP_ID narrows the Messenger check; X_BEARER_TOKEN lists X's webhooks).
_OPTIONAL_SETTINGS = ("META_APP_ID", "X_BEARER_TOKEN", "X_CONSUMER_KEY", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")


class Status(StrEnum):
    HEALTHY = "healthy"
    UNHEALTHY = "unhealthy"
    NOT_CONFIGURED = "not_configured"
    NOT_CHECKED = "not_checked"


@dataclass(frozen=True, kw_only=True)
class ChannelHealth:
    channel: Channel
    status: Status
    reason: str | None = None

    def as_dict(self) -> dict[str, str]:
        return {"status": self.status.value} | ({"reason": self.reason} if self.reason else {})


def _checks() -> dict[Channel, Callable[[], str | None]]:
    """Each platform's check: None when healthy, else the reason. Adapters are imported on first use."""
    from shared.channels import meta, x

    return {Channel.WHATSAPP: meta.check_whatsapp, Channel.MESSENGER: meta.check_messenger, Channel.X: x.check_health}


def check_channels() -> dict[str, dict[str, str]]:
    """Check every configured channel, emit one ChannelHealthy metric each, and summarise them by channel."""
    results = _run_checks(_checks(), timeout=_timeout_seconds())
    results.append(ChannelHealth(channel=Channel.SMS, status=Status.NOT_CHECKED))
    for result in results:
        _report(result)
    return {result.channel.value: result.as_dict() for result in results}


def _run_checks(checks: dict[Channel, Callable[[], str | None]], *, timeout: float) -> list[ChannelHealth]:
    """Run the configured channels' checks in parallel; one that has not finished within ``timeout`` failed.

    shared.http has one timeout for every call (HTTP_TIMEOUT_SECONDS), so the deadline is kept here. A check still
    running when it passes is left behind; its thread ends with its own HTTP timeout and its answer is ignored.
    """
    # Configuration, and so the Secrets Manager secret, is read here before any thread starts (boto3's default
    # session is not thread-safe); the checks then find every value cached.
    try:
        configured = {channel: _is_configured(channel) for channel in checks}
        for name in _OPTIONAL_SETTINGS:
            config.get_optional(name)
    except Exception as error:  # e.g. the secret cannot be read: every channel fails, the function does not
        reason = f"settings_unreadable ({type(error).__name__})"
        return [ChannelHealth(channel=channel, status=Status.UNHEALTHY, reason=reason) for channel in checks]
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="channel-health")
    try:
        futures = {channel: pool.submit(_safely, check) for channel, check in checks.items() if configured[channel]}
        done, _ = wait(futures.values(), timeout=timeout)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    results = []
    for channel in checks:
        future = futures.get(channel)
        if future is None:
            results.append(ChannelHealth(channel=channel, status=Status.NOT_CONFIGURED))
        elif future not in done:
            results.append(ChannelHealth(channel=channel, status=Status.UNHEALTHY, reason=f"timeout ({timeout} s)"))
        elif (problem := future.result()) is None:
            results.append(ChannelHealth(channel=channel, status=Status.HEALTHY))
        else:
            results.append(ChannelHealth(channel=channel, status=Status.UNHEALTHY, reason=problem))
    return results


def _timeout_seconds() -> float:
    try:
        return float(config.get("CHANNEL_HEALTH_TIMEOUT_SECONDS"))
    except ValueError as error:
        raise ConfigurationError("setting CHANNEL_HEALTH_TIMEOUT_SECONDS must be a number of seconds") from error


def _is_configured(channel: Channel) -> bool:
    return all(config.get_optional(name) for name in _REQUIRED_SETTINGS[channel])


def _safely(check: Callable[[], str | None]) -> str | None:
    """Never raise: one broken check must not hide the others. Only the error's type is kept (no message)."""
    try:
        return check()
    except Exception as error:
        return f"check_failed ({type(error).__name__})"


def _report(result: ChannelHealth) -> None:
    if result.status is Status.UNHEALTHY:
        logger.warning("channel unhealthy", extra={"channel": result.channel.value, "reason": result.reason})
    elif result.status is Status.HEALTHY:
        logger.info("channel healthy", extra={"channel": result.channel.value})
    if result.status in (Status.HEALTHY, Status.UNHEALTHY):
        _emit(result.channel, healthy=result.status is Status.HEALTHY)


def _emit(channel: Channel, *, healthy: bool) -> None:
    """One EMF record per channel (Powertools puts every metric of one record under the same dimensions)."""
    with single_metric(
        name=METRIC_NAME,
        unit=MetricUnit.Count,
        value=1 if healthy else 0,
        namespace=metrics.namespace,
        # Fixed here, like every other Sampark metric's, whatever POWERTOOLS_SERVICE_NAME says.
        default_dimensions={"service": metrics.service},
    ) as metric:
        metric.add_dimension(name=DIMENSION_NAME, value=channel.value)
