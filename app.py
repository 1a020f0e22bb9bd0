"""Composition root: the Chalice app, its middleware and blueprints. No logic here."""

import functools

from chalice import Chalice, ConvertToMiddleware

from functions import (
    areas,
    audit,
    broadcasts,
    health,
    messenger,
    sms,
    subscriptions,
    tips,
    wanted,
    whatsapp,
    workers,
    x,
)
from shared.observability import logger, metrics

app = Chalice(app_name="sampark", configure_logs=False)
app.register_middleware(ConvertToMiddleware(logger.inject_lambda_context))
app.register_middleware(ConvertToMiddleware(functools.partial(metrics.log_metrics, capture_cold_start_metric=True)))

app.register_blueprint(whatsapp.bp)
app.register_blueprint(messenger.bp)
app.register_blueprint(x.bp)
app.register_blueprint(sms.bp)
app.register_blueprint(areas.bp)
app.register_blueprint(tips.bp)
app.register_blueprint(audit.bp)
app.register_blueprint(wanted.bp)
app.register_blueprint(subscriptions.bp)
app.register_blueprint(broadcasts.bp)
app.register_blueprint(workers.bp)
app.register_blueprint(health.bp)

# Lambda entry points of the queue-triggered functions. Chalice names blueprint handlers by module
# (functions.workers.*), so Lambda would skip this file and with it the middleware (aws/chalice#1566);
# infra/resources.json points each function's Handler here instead.
record_deliveries = workers.record_deliveries
fetch_media = workers.fetch_media
send_replies = workers.send_replies
process_photo_uploads = workers.process_photo_uploads
send_broadcasts = workers.send_broadcasts
count_sms_deliveries = workers.count_sms_deliveries
post_to_social = workers.post_to_social
receive_sms = sms.receive_sms
sync_subscriptions = subscriptions.sync_subscriptions
check_channel_health = health.check_channel_health
