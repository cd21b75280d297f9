from django.urls import path

from staffing import plan_views, roster_import_views, roster_views, views

app_name = "staffing"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("targets/", views.targets_page, name="targets"),
    path("institutions/<int:institution_pk>/establishment/", views.establishment_save, name="establishment_save"),
    path("institutions/<int:institution_pk>/posts/", views.posts_save, name="posts_save"),
    path("regions/<int:region_pk>/population/", views.population_save, name="population_save"),
    path("roster/", roster_views.roster, name="roster"),
    path("roster/export.xlsx", roster_views.roster_export, name="roster_export"),
    path("roster/import/", roster_import_views.roster_import, name="roster_import"),
    path("roster/import/confirm/", roster_import_views.roster_import_confirm, name="roster_import_confirm"),
    path("staff/<int:staff_pk>/", roster_views.staff_detail, name="staff_detail"),
    path("staff/<int:staff_pk>/identity/", roster_views.staff_identity, name="staff_identity"),
    path("staff/<int:staff_pk>/moves/new/", roster_views.move_new, name="move_new"),
    path("moves/", roster_views.moves, name="moves"),
    path("recruitment/", plan_views.plans, name="plans"),
    path("recruitment/new/", plan_views.plan_new, name="plan_new"),
    path("recruitment/<int:recruitment_plan_pk>/", plan_views.plan_edit, name="plan_edit"),
    path("training/", plan_views.trainings, name="trainings"),
    path("staff/<int:staff_pk>/training/new/", plan_views.training_new, name="training_new"),
    path("training/<int:training_record_pk>/delete/", plan_views.training_delete, name="training_delete"),
]
