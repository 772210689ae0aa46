from django.urls import include, path

from integrations import webhooks

urlpatterns = [
    path("norce/<int:integration_id>/orders", webhooks.order_receiver, name="norce-order-receiver"),
    path("norce/<int:integration_id>/events", webhooks.norce_event, name="norce-events"),
    path("api/", include("integrations.api.urls")),
    path("healthz", lambda request: __import__("integrations.health", fromlist=["healthz"]).healthz(request), name="healthz"),
    path("oauth/fortnox/callback",
         lambda request: __import__("integrations.admin_views", fromlist=["fortnox_callback"]).fortnox_callback(request),
         name="fortnox-oauth-callback"),
]
