"""Users and their grants in the admin, for superusers to READ. Accounts and grants are changed in
用户管理 (/security/users/), where the grant rules hold and every change leaves its event in the
security log; an edit here would bypass both."""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.utils.translation import gettext_lazy as _

from accounts.models import Grant, User
from core.admin import SuperuserOnlyMixin


class ReadOnlyMixin(SuperuserOnlyMixin):
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class GrantInline(ReadOnlyMixin, admin.TabularInline):
    model = Grant
    fields = ["role", "region", "alliance", "institution", "created_at"]
    readonly_fields = ["created_at"]
    autocomplete_fields = ["region", "alliance", "institution"]
    extra = 0


@admin.register(User)
class UserAdmin(ReadOnlyMixin, DjangoUserAdmin):
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Personal info"), {"fields": ("full_name", "phone", "first_name", "last_name", "email")}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "full_name", "phone", "password1", "password2")}),
    )
    list_display = ["username", "full_name", "phone", "email", "is_active", "is_superuser", "last_login"]
    list_filter = ["is_active", "is_staff", "is_superuser", "grants__role"]
    search_fields = ["username", "full_name", "phone", "email"]
    inlines = [GrantInline]


@admin.register(Grant)
class GrantAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["user", "role", "region", "alliance", "institution", "created_at"]
    list_filter = ["role", "region"]
    search_fields = ["user__username", "user__full_name", "region__name", "alliance__name", "institution__name"]
    autocomplete_fields = ["user", "region", "alliance", "institution"]
    list_select_related = ["user", "region", "alliance", "institution"]
    readonly_fields = ["created_at"]
