from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _

admin.site.site_header = _("医共体治理门户 · system administration")
admin.site.site_title = "医共体治理门户"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/", include("config.api_urls")),
    path("", include("core.urls")),
    path("", include("alliances.urls")),
    path("tasks/", include("tasks.urls")),
    path("", include("indicators.urls")),
    path("reports/", include("reports.urls")),
    path("finance/", include("finance.urls")),
    path("staffing/", include("staffing.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
