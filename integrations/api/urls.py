"""Status API routes, mounted under `api/` by the site's urls."""

from __future__ import annotations

from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from integrations.api import views

app_name = "api"

router = DefaultRouter()
router.register("integrations", views.IntegrationViewSet, basename="integration")
router.register("tasks", views.TaskViewSet, basename="task")
router.register("logs", views.LogEntryViewSet, basename="log")
router.register("references", views.ReferenceViewSet, basename="reference")
router.register("connect-jobs", views.ConnectJobViewSet, basename="connect-job")

urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="api:schema"), name="redoc"),
    # Last: every other path ending in a slash answers a JSON 404. Paths without the slash are
    # redirected to it first (APPEND_SLASH), so they end here too.
    re_path(r"^.*/$", views.not_found),
]
