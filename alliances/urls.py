from django.urls import path

from alliances import views

app_name = "alliances"
urlpatterns = [
    path("regions/<int:region_pk>/", views.region_detail, name="region_detail"),
    path("regions/<int:region_pk>/structure.xlsx", views.region_structure_xlsx, name="region_structure_xlsx"),
    path("regions/<int:region_pk>/institutions.xlsx", views.region_institutions_xlsx,
         name="region_institutions_xlsx"),
    path("regions/<int:region_pk>/institutions/import/", views.region_institutions_import,
         name="region_institutions_import"),
    path("regions/<int:region_pk>/memberships.xlsx", views.region_memberships_xlsx,
         name="region_memberships_xlsx"),
    path("regions/<int:region_pk>/memberships/import/", views.region_memberships_import,
         name="region_memberships_import"),
    path("alliances/", views.alliance_list, name="alliance_list"),
    path("alliances/new/", views.alliance_create, name="alliance_create"),
    path("alliances/<int:alliance_pk>/", views.alliance_detail, name="alliance_detail"),
    path("alliances/<int:alliance_pk>/members/", views.alliance_members, name="alliance_members"),
    path("alliances/<int:alliance_pk>/edit/", views.alliance_edit, name="alliance_edit"),
    path("alliances/<int:alliance_pk>/deactivate/", views.alliance_deactivate, name="alliance_deactivate"),
    path("alliances/<int:alliance_pk>/add-member/", views.alliance_add_member, name="alliance_add_member"),
    path("institutions/", views.institution_list, name="institution_list"),
    path("institutions/new/", views.institution_create, name="institution_create"),
    path("institutions/<int:institution_pk>/", views.institution_detail, name="institution_detail"),
    path("institutions/<int:institution_pk>/edit/", views.institution_edit, name="institution_edit"),
    path("institutions/<int:institution_pk>/deactivate/", views.institution_deactivate,
         name="institution_deactivate"),
    path("institutions/<int:institution_pk>/move/", views.institution_move, name="institution_move"),
    path("joint-offices/new/", views.joint_office_create, name="joint_office_create"),
    path("joint-offices/<int:joint_office_pk>/delete/", views.joint_office_delete, name="joint_office_delete"),
]
