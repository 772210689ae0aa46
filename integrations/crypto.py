"""Credentials at rest: Fernet-encrypted JSON, key from settings.CREDENTIALS_KEY."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models


def _fernet() -> Fernet:
    return Fernet(settings.CREDENTIALS_KEY.encode())


def encrypt_json(value: dict[str, Any]) -> str:
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token: str) -> dict[str, Any]:
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:  # wrong CREDENTIALS_KEY
        raise ValueError("credentials cannot be decrypted: CREDENTIALS_KEY changed?") from exc


class EncryptedJSONField(models.TextField):
    """A dict stored as Fernet ciphertext. Never rendered in forms or admin."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return {}
        return decrypt_json(value)

    def to_python(self, value):
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        return decrypt_json(value)

    def get_prep_value(self, value):
        if value is None:
            value = {}
        if isinstance(value, str):
            return value
        return encrypt_json(value)

    def value_to_string(self, obj):  # dumpdata keeps ciphertext
        return self.get_prep_value(self.value_from_object(obj))
