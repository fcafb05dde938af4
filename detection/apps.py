from django.apps import AppConfig


class DetectionConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "detection"
    verbose_name = "Detection"

    def ready(self) -> None:
        """The engine service builds its gallery from the registry through this module's builder;
        camera and webhook changes are audited by receivers."""
        from detection import receivers  # noqa: F401  (audit of camera and webhook changes)
        from detection.services.engine import register_gallery_builder
        from detection.services.gallery import build_gallery

        register_gallery_builder(build_gallery)
