"""Channel health, on a schedule: a platform that stopped delivering to us (expired token, Page unsubscribed, X
webhook invalid) shows as ChannelHealthy = 0, which infra/ alarms on (README, "Operations: channel health")."""

from chalice import Blueprint, Rate

bp = Blueprint(__name__)

# Tokens expire and subscriptions lapse over hours, not seconds: X re-validates its webhook hourly, and Meta is said
# to unsubscribe a Page after about an hour of failed deliveries (platform-contracts §1.4, §4.2). Hourly also keeps
# the calls to pay-per-use X at 48 a day.
CHECK_EVERY_HOURS = 1


@bp.schedule(Rate(CHECK_EVERY_HOURS, unit=Rate.HOURS), name="check_channel_health")
def check_channel_health(event) -> dict:
    from shared import channel_health  # imported on first use: the API handler shares this module

    return channel_health.check_channels()
