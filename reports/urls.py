from django.urls import path

from reports import alert_views, city_views, target_views, views

app_name = "reports"
urlpatterns = [
    path("", views.archive, name="archive"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/unread/", views.unread, name="unread"),
    path("<int:scheduled_report_pk>/", views.detail, name="detail"),
    path("<int:scheduled_report_pk>/status/", views.status, name="status"),
    path("<int:scheduled_report_pk>/sign-off/", views.sign_off, name="sign_off"),
    path("<int:scheduled_report_pk>/regenerate/", views.regenerate, name="regenerate"),
    path("<int:scheduled_report_pk>/deliveries/<int:delivery_pk>/resend/", views.resend, name="resend"),
    path("versions/<int:version_pk>.xlsx", views.download, name="download"),
    path("versions/<int:version_pk>/", views.print_view, name="print"),
    path("regions/<int:region_pk>/settings/", views.county_settings, name="settings"),
    path("regions/<int:region_pk>/recipients/", views.recipients_edit, name="recipients_edit"),
    path("regions/<int:region_pk>/robots/", views.webhooks, name="webhooks"),
    path("regions/<int:region_pk>/quarterly-summary/", city_views.city_summary, name="city_summary"),
    path("regions/<int:region_pk>/quarterly-summary.xlsx", city_views.city_summary_xlsx, name="city_summary_xlsx"),
    path("regions/<int:region_pk>/go-live/", views.go_live, name="go_live"),
    path("items/<int:item_pk>/target/", target_views.item_target, name="item_target"),
    path("ledgers/<int:ledger_pk>/targets/", target_views.ledger_targets, name="ledger_targets"),
    path("ledgers/<int:ledger_pk>/targets/confirm/", target_views.ledger_targets_confirm,
         name="ledger_targets_confirm"),
    path("alerts/", alert_views.alert_list, name="alert_list"),
    path("alerts/unread/", alert_views.unread, name="alert_unread"),
    path("alerts/<int:alert_pk>/", alert_views.alert_detail, name="alert_detail"),
    path("alerts/<int:alert_pk>/acknowledge/", alert_views.acknowledge, name="alert_acknowledge"),
    path("regions/<int:region_pk>/alerts/rules/", alert_views.rule_list, name="alert_rules"),
    path("regions/<int:region_pk>/alerts/rules/new/", alert_views.rule_edit, name="alert_rule_add"),
    path("regions/<int:region_pk>/alerts/rules/<int:alert_rule_pk>/", alert_views.rule_edit, name="alert_rule_edit"),
    path("regions/<int:region_pk>/alerts/rules/<int:alert_rule_pk>/disable/", alert_views.rule_disable,
         name="alert_rule_disable"),
]
