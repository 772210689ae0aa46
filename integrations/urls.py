from django.urls import include, path

from integrations import health, webhooks
from integrations.admin import views as admin_views

urlpatterns = [
    path("norce/<int:integration_id>/orders", webhooks.order_receiver, name="norce-order-receiver"),
    path("norce/<int:integration_id>/events", webhooks.norce_event, name="norce-events"),
    path("api/", include("integrations.api.urls")),
    path("healthz", health.healthz, name="healthz"),
    path("oauth/fortnox/callback", admin_views.oauth_callback, name="fortnox-oauth-callback"),
]
