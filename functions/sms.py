"""Two-way SMS: AWS End User Messaging publishes each inbound SMS to an SNS topic, which invokes this function.

SNS invokes Lambda asynchronously: a failure is retried by Lambda and then goes to the function's on-failure
destination (infra/resources.json), so nothing is dropped silently.
"""

from chalice import Blueprint

from shared import clock
from shared.channels.sms import INBOUND_TOPIC
from shared.domain import Channel

bp = Blueprint(__name__)


@bp.on_sns_message(topic=INBOUND_TOPIC, name="receive_sms")
def receive_sms(event) -> None:
    from shared import recording  # imported on first use: the API handler shares this module

    # The SNS message is itself a JSON string (platform-contracts §5); the adapter parses it like a webhook body.
    recording.record_delivery(Channel.SMS, event.message.encode(), clock.now())
