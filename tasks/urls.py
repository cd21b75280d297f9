from django.urls import path

from tasks import views

app_name = "tasks"
urlpatterns = [
    path("", views.ledger_list, name="ledger_list"),
    path("mine/", views.my_tasks, name="my_tasks"),
    path("review/", views.review_queue, name="review_queue"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("assignments/", views.assignment_list, name="assignment_list"),
    path("assignments/export.xlsx", views.assignment_list_xlsx, name="assignment_list_xlsx"),
    path("regions/<int:region_pk>/import/", views.ledger_import, name="ledger_import"),
    path("regions/<int:region_pk>/ledgers/new/", views.ledger_create_view, name="ledger_create"),
    path("regions/<int:region_pk>/settings/", views.task_settings, name="task_settings"),
    path("regions/<int:region_pk>/departments/", views.department_list, name="department_list"),
    path("regions/<int:region_pk>/inspections/new/", views.inspection_create, name="inspection_create"),
    path("ledgers/<int:ledger_pk>/", views.ledger_detail, name="ledger_detail"),
    path("ledgers/<int:ledger_pk>/edit/", views.ledger_edit, name="ledger_edit"),
    path("ledgers/<int:ledger_pk>/export.xlsx", views.ledger_xlsx, name="ledger_xlsx"),
    path("ledgers/<int:ledger_pk>/items/new/", views.item_create, name="item_create"),
    path("items/<int:item_pk>/", views.item_detail, name="item_detail"),
    path("items/<int:item_pk>/edit/", views.item_edit, name="item_edit"),
    path("items/<int:item_pk>/deadline/", views.item_deadline, name="item_deadline"),
    path("assignments/<int:assignment_pk>/report/", views.report_create, name="report_create"),
    path("assignments/<int:assignment_pk>/order/", views.order_create, name="order_create"),
    path("reports/<int:report_pk>/review/", views.report_review, name="report_review"),
    path("evidence/<int:evidence_pk>/", views.evidence_download, name="evidence_download"),
    path("orders/", views.order_list, name="order_list"),
    path("orders/<int:order_pk>/", views.order_detail, name="order_detail"),
    path("inspections/", views.inspection_list, name="inspection_list"),
    path("inspections/<int:inspection_pk>/", views.inspection_detail, name="inspection_detail"),
    path("findings/<int:finding_pk>/task/", views.finding_task, name="finding_task"),
    path("notifications/", views.notification_list, name="notification_list"),
    path("notifications/<int:notification_pk>/read/", views.notification_read, name="notification_read"),
]
