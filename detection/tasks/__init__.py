"""Celery tasks of the detection app, one module per feature (imported here for autodiscovery)."""

from detection.tasks.alerts import deliver_webhook  # noqa: F401  (live alerts, issue 7)
from detection.tasks.batches import recover_stalled_batches, run_batch_chunk  # noqa: F401  (batches, issue 5)
from detection.tasks.privacy import erase_withdrawn_people, purge_old_audit_events  # noqa: F401  (consent and audit, issue 18)
from detection.tasks.registry import import_faces  # noqa: F401  (face registry bulk import, issue 6)
from detection.tasks.retention import purge_old_images_task  # noqa: F401  (image retention, issue 5)
