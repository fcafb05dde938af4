from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import AuditEvent, User

admin.site.register(User, UserAdmin)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ("created_at", "kind", "username", "actor", "ip_address")
    list_filter = ("kind",)
    search_fields = ("username",)
    readonly_fields = [f.name for f in AuditEvent._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
