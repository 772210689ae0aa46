from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("integrations.urls")),
]

handler400 = "integrations.http_errors.bad_request"
handler404 = "integrations.http_errors.not_found"
