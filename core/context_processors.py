from django.conf import settings


def portal(request):
    """Values every page template needs."""
    return {"PORTAL_PRODUCTION": settings.PRODUCTION}
