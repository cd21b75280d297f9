from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView

from reports.cockpit_views import home
from security.views import login as security_login

admin.site.site_header = _("医共体治理门户 · system administration")
admin.site.site_title = "医共体治理门户"

urlpatterns = [
    # Signing in and out: the password step, then the two-factor step for accounts that have it.
    path("login/", security_login.LoginView.as_view(), name="login"),
    path("logout/", security_login.LogoutView.as_view(), name="logout"),
    path("", include("security.urls")),
    # The admin signs in through the portal's sign-in (lockout, two-factor, security log).
    path("admin/login/", RedirectView.as_view(pattern_name="login", query_string=True), name="admin_login"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("config.api_urls")),
    path("", home, name="home"),
    path("", include("core.urls")),
    path("", include("alliances.urls")),
    path("tasks/", include("tasks.urls")),
    path("", include("indicators.urls")),
    path("reports/", include("reports.urls")),
    path("finance/", include("finance.urls")),
    path("staffing/", include("staffing.urls")),
]
# No /media/ route, not even under DEBUG: stored files (佐证材料, import previews) leave only through
# the scoped views, which call core.files.serve_file.
