from django.apps import AppConfig


class TrainingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "training"
    verbose_name = "Training"

    def ready(self) -> None:
        """Tell the detection side where the active classifier is and which training jobs the
        dashboard lists, and connect the training pool to reviewed faces: training depends on
        detection, never the reverse."""
        from detection.services.engine import register_model_locator
        from detection.services.stats import register_job_source
        from training.services import pool  # noqa: F401  (connects its face_reviewed receiver)
        from training.services.jobs import dashboard_jobs
        from training.services.registry import active_model

        register_model_locator(active_model)
        register_job_source(dashboard_jobs)
