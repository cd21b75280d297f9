from django.contrib import admin

from alliances.admin import SuperuserOnlyMixin
from core.models import Heartbeat


@admin.register(Heartbeat)
class HeartbeatAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["worker", "beat_at"]
    search_fields = ["worker"]
    date_hierarchy = "beat_at"
    readonly_fields = ["worker", "beat_at"]

    def has_add_permission(self, request, *args):
        return False
