"""The REST API: one router for every app's viewsets, the schema and its docs."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from alliances.api import register_routes as register_alliance_routes
from indicators.api import register_routes as register_indicator_routes
from security.api import MeView
from security.api import register_routes as register_security_routes
from security.api_auth import ObtainTokenView
from staffing.api import register_routes as register_staffing_routes
from tasks.api import register_routes as register_task_routes

router = DefaultRouter()
register_alliance_routes(router)
register_task_routes(router)
register_indicator_routes(router)
register_staffing_routes(router)
register_security_routes(router)

urlpatterns = [
    path("", include(router.urls)),
    path("token/", ObtainTokenView.as_view(), name="api-token"),
    path("me/", MeView.as_view(), name="api-me"),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
