"""Who may read the status API.

The API shows every merchant's data, buyers' e-mail addresses included, so until tokens are scoped
to one merchant it is for staff only: an authenticated, active user with `is_staff`."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission


class IsStaff(BasePermission):
    message = "The status API is for staff users only."

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff)
