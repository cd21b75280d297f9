"""Admin of the organisation tree, for superusers. Membership rows are validated by the model
(``AllianceMembership.clean`` runs the service checks) and by the database underneath."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from alliances.models import Alliance, AllianceMembership, GovernanceMember, Institution, JointOffice, Region
from core.admin import SuperuserOnlyMixin


@admin.register(Region)
class RegionAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["code", "name", "level", "parent"]
    list_filter = ["level"]
    search_fields = ["code", "name"]
    autocomplete_fields = ["parent"]
    ordering = ["code"]


class VillageClinicInline(SuperuserOnlyMixin, admin.TabularInline):
    model = Institution
    fk_name = "parent"
    fields = ["name", "kind", "service_population", "is_active"]
    extra = 0
    verbose_name = _("village clinic")
    verbose_name_plural = _("village clinics")
    show_change_link = True


@admin.register(Institution)
class InstitutionAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "county", "kind", "parent", "beds", "service_population", "is_active", "is_sample"]
    list_filter = ["kind", "is_active", "is_sample", "county"]
    search_fields = ["name", "short_name", "credit_code"]
    autocomplete_fields = ["county", "parent"]
    list_select_related = ["county", "parent"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [VillageClinicInline]


class GovernanceMemberInline(SuperuserOnlyMixin, admin.TabularInline):
    model = GovernanceMember
    fields = ["body", "order", "position", "person_name", "institution", "affiliation"]
    autocomplete_fields = ["institution"]
    extra = 0


class AllianceMembershipInline(SuperuserOnlyMixin, admin.TabularInline):
    """Read-only history. Rows are checked one at a time against the stored ones, so several
    rows edited together could pass each check and break the rules as a whole: memberships
    change through the portal's move page or the membership admin, one row at a time."""

    model = AllianceMembership
    fields = ["institution", "role", "valid_from", "valid_to", "note"]
    readonly_fields = fields
    ordering = ["-valid_from"]
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Alliance)
class AllianceAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["name", "county", "short_name", "established_on", "is_active"]
    list_filter = ["is_active", "county"]
    search_fields = ["name", "short_name"]
    autocomplete_fields = ["county"]
    list_select_related = ["county"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [AllianceMembershipInline, GovernanceMemberInline]


@admin.register(AllianceMembership)
class AllianceMembershipAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["institution", "alliance", "role", "valid_from", "valid_to"]
    list_filter = ["role", "alliance__county", "alliance"]
    search_fields = ["institution__name", "alliance__name"]
    autocomplete_fields = ["institution", "alliance"]
    list_select_related = ["institution", "alliance"]
    date_hierarchy = "valid_from"
    readonly_fields = ["created_at"]


@admin.register(JointOffice)
class JointOfficeAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["first", "second", "note", "created_at"]
    search_fields = ["first__name", "second__name", "note"]
    autocomplete_fields = ["first", "second"]
    list_select_related = ["first", "second"]
    readonly_fields = ["created_at"]


@admin.register(GovernanceMember)
class GovernanceMemberAdmin(SuperuserOnlyMixin, admin.ModelAdmin):
    list_display = ["alliance", "body", "position", "person_name", "institution", "affiliation", "order"]
    list_filter = ["body", "alliance"]
    search_fields = ["person_name", "position", "alliance__name"]
    autocomplete_fields = ["alliance", "institution"]
    list_select_related = ["alliance", "institution"]
