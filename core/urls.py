from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from core import views

# The sign-in page states the lockout rule (django-axes) as configured.
_LOGIN_CONTEXT = {
    "failure_limit": settings.AXES_FAILURE_LIMIT,
    "cooloff_minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
}

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(extra_context=_LOGIN_CONTEXT), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("health/", views.health, name="health"),
]
