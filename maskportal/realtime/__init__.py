"""Realtime messages to browsers: their types and permissions (messages), the one publisher
(publisher) and the embedded layer's outbox (outbox). The names below are the public interface.

Tasks, services and consumers all build messages here so the browser sees one schema
(paperless-ngx style). With Redis the channel layer is shared by every process. Without it
(the embedded default) the layer is in-memory in the web process, so other processes (Celery
workers, camera watchers) drop messages into a small file outbox that the web process relays.
"""

from maskportal.realtime.messages import (
    ACCESS_CHANGED_EVENT,
    CLIENT_MESSAGE_TYPES,
    DASHBOARD_GROUP,
    EVENT_TYPE,
    MESSAGE_TYPES,
    MessageType,
    camera_group,
    error_message,
    message,
    progress_message,
    sockets_group,
    user_group,
)
from maskportal.realtime.outbox import ensure_outbox_relay, layer_is_process_local
from maskportal.realtime.publisher import access_changed, apublish, flush, publish

__all__ = [
    "ACCESS_CHANGED_EVENT",
    "CLIENT_MESSAGE_TYPES",
    "DASHBOARD_GROUP",
    "EVENT_TYPE",
    "MESSAGE_TYPES",
    "MessageType",
    "access_changed",
    "apublish",
    "camera_group",
    "ensure_outbox_relay",
    "error_message",
    "flush",
    "layer_is_process_local",
    "message",
    "progress_message",
    "publish",
    "sockets_group",
    "user_group",
]
