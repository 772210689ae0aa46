from django.urls import include, path

from integrations import health, webhooks
from integrations.admin import views as admin_views

urlpatterns = [
    # Norce is configured with these addresses, and the admin shows them by these names.
    path(
        "norce/<int:integration_id>/orders",
        webhooks.receive,
        {"system": "norce", "hook": "orders"},
        name="norce-order-receiver",
    ),
    path(
        "norce/<int:integration_id>/events",
        webhooks.receive,
        {"system": "norce", "hook": "events"},
        name="norce-events",
    ),
    path("api/", include("integrations.api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("oauth/fortnox/callback", admin_views.oauth_callback, name="fortnox-oauth-callback"),
    path("<str:system>/<int:integration_id>/<str:hook>", webhooks.receive, name="webhook"),
]
