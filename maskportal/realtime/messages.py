"""Every realtime message type, with the permission a socket's user needs for it, the groups they
are sent to, and the builders that refuse an undeclared type."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class MessageType:
    """A kind of realtime message and the permission a socket's user needs for it, checked for every
    message when it is delivered (server to browser) or received (browser to server). None: any
    active user (answers on the user's own socket, such as errors). `by_kind` refines it by the
    message's `kind` field (a job's progress needs the permission to view that kind of job)."""

    name: str
    permission: str | None
    by_kind: Mapping[str, str] = field(default_factory=dict)

    def permission_for(self, msg: Mapping[str, Any]) -> str | None:
        kind = msg.get("kind")
        return self.by_kind.get(kind, self.permission) if isinstance(kind, str) else self.permission


#: Every message the server sends to browsers.
MESSAGE_TYPES: dict[str, MessageType] = {
    t.name: t
    for t in (
        MessageType(
            "progress",
            "accounts.admin_area",
            by_kind={
                "batch": "detection.view_batchjob",
                "training": "training.view_trainingjob",
                "import": "training.view_trainingimage",
                "face_import": "detection.manage_registry",
            },
        ),
        MessageType("detection", "detection.view_detectionlog"),
        MessageType("review", "detection.view_detectionlog"),
        MessageType("alert", "detection.view_detectionlog"),
        MessageType("model", "training.view_modelversion"),
        MessageType("gallery", "detection.view_person"),
        MessageType("frame", "detection.watch_camera"),
        MessageType("status", "detection.watch_camera"),
        MessageType("dropped", None),
        MessageType("error", None),
        MessageType("pong", None),
    )
}
#: Every message browsers may send: JSON `ping`, and binary frames on the live socket.
CLIENT_MESSAGE_TYPES: dict[str, MessageType] = {
    t.name: t
    for t in (
        MessageType("ping", None),
        MessageType("live_frame", "detection.add_detectionlog"),
    )
}

#: Channel-layer event type; consumers implement `realtime_message`.
EVENT_TYPE = "realtime.message"
#: Channel-layer event telling a user's sockets that the user's access changed (disabled, role removed).
ACCESS_CHANGED_EVENT = "realtime.access_changed"
DASHBOARD_GROUP = "dashboard"


def user_group(user_id: int) -> str:
    return f"user.{user_id}"


def sockets_group(user_id: int) -> str:
    """Every open socket of one user, whatever it shows: how a disabled user's sockets are closed."""
    return f"sockets.{user_id}"


def camera_group(camera_id: int) -> str:
    return f"camera.{camera_id}"


def message(kind: str, /, **payload: Any) -> dict[str, Any]:
    if kind not in MESSAGE_TYPES:
        raise ValueError(f"undeclared realtime message type {kind!r}: add it to MESSAGE_TYPES with its permission")
    return {"type": kind, **payload}


def progress_message(
    *, job: int | str, kind: str, done: int, total: int, failed: int = 0, status: str, **extra: Any
) -> dict[str, Any]:
    return message("progress", job=job, kind=kind, done=done, total=total, failed=failed, status=status, **extra)


def error_message(code: str, text: str) -> dict[str, Any]:
    return message("error", code=code, message=text)
