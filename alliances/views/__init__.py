"""Pages of the organisation tree: county structure, alliances, institutions, joint offices.

Every queryset and object comes from ``alliances.scoping``: GET pages use the
"view" action, forms and POSTs the "change" action (a record the user sees but
may not change answers 403, a foreign or missing one 404). Memberships are
written only through ``alliances.services``.

The pages live in one module per domain (``regions``, ``alliance_views``, ``institutions``,
``joint_offices``, ``imports`` for the institution register's xlsx export and import, ``membership_imports`` for
the alliance membership register's, ``home`` for the
home page; shared helpers in ``common``); this package re-exports what ``alliances.urls`` uses.
"""

from alliances.views.alliance_views import (
    alliance_add_member,
    alliance_create,
    alliance_deactivate,
    alliance_detail,
    alliance_edit,
    alliance_list,
    alliance_members,
    alliance_page_context,
)
from alliances.views.imports import region_institutions_import, region_institutions_xlsx
from alliances.views.institutions import (
    institution_create,
    institution_deactivate,
    institution_detail,
    institution_edit,
    institution_list,
    institution_move,
    institution_page_context,
)
from alliances.views.joint_offices import joint_office_create, joint_office_delete
from alliances.views.membership_imports import region_memberships_import, region_memberships_xlsx
from alliances.views.regions import (
    county_structure_context,
    region_detail,
    region_structure_xlsx,
    rollup_context,
)

__all__ = [
    "alliance_add_member",
    "alliance_create",
    "alliance_deactivate",
    "alliance_detail",
    "alliance_edit",
    "alliance_list",
    "alliance_members",
    "alliance_page_context",
    "county_structure_context",
    "institution_create",
    "institution_deactivate",
    "institution_detail",
    "institution_edit",
    "institution_list",
    "institution_move",
    "institution_page_context",
    "joint_office_create",
    "joint_office_delete",
    "region_detail",
    "region_institutions_import",
    "region_institutions_xlsx",
    "region_memberships_import",
    "region_memberships_xlsx",
    "region_structure_xlsx",
    "rollup_context",
]
