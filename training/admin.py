"""Django admin for the training app (the retraining PeriodicTask is under Periodic tasks)."""

from django.contrib import admin

from training.models import ModelVersion, TrainingImage, TrainingJob, TrainingSettings


@admin.register(TrainingImage)
class TrainingImageAdmin(admin.ModelAdmin):
    list_display = ("id", "label", "source", "split", "added_by", "created_at")
    list_filter = ("label", "source", "split")
    readonly_fields = ("content_hash", "split", "detected_face", "created_at")
    search_fields = ("content_hash",)


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    """Read-mostly: activation goes through the app so every process is told to reload."""

    list_display = ("number", "status", "input_size", "created_at", "activated_at", "job")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ModelVersion._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(TrainingJob)
class TrainingJobAdmin(admin.ModelAdmin):
    list_display = ("id", "status", "trigger", "created_by", "progress", "created_at", "finished_at")
    list_filter = ("status", "trigger")
    readonly_fields = [f.name for f in TrainingJob._meta.fields if f.name != "cancel_requested"]

    def has_add_permission(self, request):
        return False


@admin.register(TrainingSettings)
class TrainingSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "gate_margin", "default_epochs", "updated_at")

    def has_add_permission(self, request):
        return not TrainingSettings.objects.exists()
