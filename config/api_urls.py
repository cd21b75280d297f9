"""The REST API: one router for every app's viewsets, the schema and its docs."""

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from alliances.api import register_routes as register_alliance_routes
from core.imports.api import ImportConfirmView, ImportPreviewView
from indicators.api import register_routes as register_indicator_routes
from reports.api import register_routes as register_report_routes
from security.api import MeView
from security.api import register_routes as register_security_routes
from security.api_auth import ObtainTokenView
from staffing.api import register_routes as register_staffing_routes
from tasks.api import register_routes as register_task_routes

# The API docs render with Swagger UI and Redoc, which style their own markup with inline styles:
# their pages (only) allow those. Their scripts stay vendored files: Swagger UI's set-up script is
# served from a URL of its own (the split view) and Redoc's search runs in a blob: worker.
docs_csp = csp_update({"style-src": [UNSAFE_INLINE]})
redoc_csp = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})

router = DefaultRouter()
register_alliance_routes(router)
register_task_routes(router)
register_indicator_routes(router)
register_staffing_routes(router)
register_security_routes(router)
register_report_routes(router)

urlpatterns = [
    path("", include(router.urls)),
    path("token/", ObtainTokenView.as_view(), name="api-token"),
    path("imports/", ImportPreviewView.as_view(), name="api-imports"),
    path("imports/<str:token>/confirm/", ImportConfirmView.as_view(), name="api-import-confirm"),
    path("me/", MeView.as_view(), name="api-me"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", docs_csp(SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
    path("redoc/", redoc_csp(SpectacularRedocView.as_view(url_name="api-schema")), name="api-redoc"),
]
