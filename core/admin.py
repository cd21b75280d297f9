from django.contrib import admin

from core.models import Heartbeat


class SuperuserOnlyMixin:
    """The admin is for superusers only; staff users without superuser rights see nothing here."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request, *args):
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser


@admin.register(Heartbeat)
class HeartbeatAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["worker", "beat_at"]
    search_fields = ["worker"]
    date_hierarchy = "beat_at"
    readonly_fields = ["worker", "beat_at"]

    def has_add_permission(self, request, *args):
        return False
