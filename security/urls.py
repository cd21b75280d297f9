from django.urls import path

from security.views import account, counties, events, login, users

app_name = "security"

urlpatterns = [
    # Sign-in, second step.
    path("login/verify/", login.two_factor_verify, name="two_factor_verify"),
    # One's own account (menu under the user's name).
    path("account/", account.profile, name="profile"),
    path("account/password/", account.password_change, name="password_change"),
    path("account/two-factor/", account.two_factor, name="two_factor"),
    path("account/two-factor/recovery-codes/", account.recovery_codes, name="recovery_codes"),
    path("account/tokens/", account.token_list, name="token_list"),
    path("account/tokens/<int:token_pk>/revoke/", account.token_revoke, name="token_revoke"),
    # User management (security administrator; the bureau administrator unless duties are separated).
    path("security/users/", users.user_list, name="user_list"),
    path("security/users/export/", users.user_export, name="user_export"),
    path("security/users/new/", users.user_create, name="user_create"),
    path("security/users/import/", users.user_import, name="user_import"),
    path("security/users/import/template/", users.user_import_template, name="user_import_template"),
    path("security/users/import/confirm/", users.user_import_confirm, name="user_import_confirm"),
    path("security/users/import/passwords/", users.user_import_passwords, name="user_import_passwords"),
    path("security/users/<int:user_pk>/", users.user_detail, name="user_detail"),
    path("security/users/<int:user_pk>/edit/", users.user_edit, name="user_edit"),
    path("security/users/<int:user_pk>/deactivate/", users.user_deactivate, name="user_deactivate"),
    path("security/users/<int:user_pk>/reactivate/", users.user_reactivate, name="user_reactivate"),
    path("security/users/<int:user_pk>/reset-password/", users.user_reset_password, name="user_reset_password"),
    path("security/users/<int:user_pk>/unlock/", users.user_unlock, name="user_unlock"),
    path("security/users/<int:user_pk>/reset-two-factor/", users.user_reset_two_factor,
         name="user_reset_two_factor"),
    path("security/users/<int:user_pk>/grants/", users.grant_add, name="grant_add"),
    path("security/users/<int:user_pk>/grants/<int:grant_pk>/revoke/", users.grant_revoke, name="grant_revoke"),
    # New counties (superuser, platform administrator).
    path("security/counties/new/", counties.county_create, name="county_create"),
    # The security log (auditor).
    path("security/events/", events.event_list, name="event_list"),
    path("security/events/export/", events.event_export, name="event_export"),
    path("security/events/<int:event_pk>/", events.event_detail, name="event_detail"),
]
