from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_patterns = [
    path("", include("accounts.api_urls")),
    path("", include("connections.api_urls")),
    path("", include("syncs.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
]

urlpatterns = [
    path(settings.ADMIN_PATH, admin.site.urls),
    path("api/v1/", include((api_patterns, "api"))),
    path("", include("accounts.urls")),
    path("", include("connections.urls")),
    path("", include("connections.webhook_urls")),
    path("", include("syncs.urls")),
]
