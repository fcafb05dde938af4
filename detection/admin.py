"""Django admin for the detection models: the registry in detail, the rest as simple registrations."""

from django.contrib import admin

from detection.models import (
    AlertWebhook,
    BatchJob,
    Camera,
    DetectedFace,
    DetectionLog,
    FaceImport,
    FaceSample,
    Person,
    PlatformSettings,
)
from detection.services import registry, subjects


class FaceSampleInline(admin.TabularInline):
    model = FaceSample
    fields = ["id", "source", "synthetic_mask", "variant_of", "crop", "created_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True


@admin.register(Person)
class PersonAdmin(admin.ModelAdmin):
    list_display = ["display_name", "employee_code", "active", "consent", "created_at"]
    list_filter = ["active"]
    search_fields = ["display_name", "employee_code"]
    readonly_fields = ["active", "consent", "consent_withdrawn_at", "erasure_due_at", "created_at", "updated_at"]
    inlines = [FaceSampleInline]

    def has_add_permission(self, request):
        return False  # people are registered in the app, where their lawful basis is recorded

    def save_model(self, request, obj, form, change):
        fields = {name: form.cleaned_data[name] for name in registry.EDITABLE_FIELDS if name in form.changed_data}
        registry.update_person(Person.objects.get(pk=obj.pk), user=request.user, **fields)

    def delete_model(self, request, obj):
        subjects.erase_person(obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for person in queryset:
            subjects.erase_person(person, user=request.user)


@admin.register(FaceSample)
class FaceSampleAdmin(admin.ModelAdmin):
    list_display = ["id", "person", "source", "synthetic_mask", "embedding_model", "created_at"]
    list_filter = ["source", "synthetic_mask", "embedding_model"]
    search_fields = ["person__display_name"]
    readonly_fields = ["person", "embedding_model", "quality", "synthetic_mask", "variant_of", "image", "crop"]
    exclude = ["embedding"]

    def has_add_permission(self, request):
        return False  # samples come from the enrolment gate, never typed in

    def delete_model(self, request, obj):
        registry.delete_sample(obj.variant_of or obj, user=request.user)

    def delete_queryset(self, request, queryset):
        for sample in queryset.filter(synthetic_mask=False):
            registry.delete_sample(sample, user=request.user)


@admin.register(FaceImport)
class FaceImportAdmin(admin.ModelAdmin):
    list_display = ["id", "source_name", "owner", "status", "done", "failed", "created_at"]
    list_filter = ["status"]


admin.site.register(Camera)
admin.site.register(DetectionLog)
admin.site.register(DetectedFace)
admin.site.register(BatchJob)
admin.site.register(AlertWebhook)


@admin.register(PlatformSettings)
class PlatformSettingsAdmin(admin.ModelAdmin):
    """Read-only here: the settings page validates and audits every change."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
