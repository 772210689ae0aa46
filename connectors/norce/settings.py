"""Settings of a Norce connector (its settings JSON), read and checked by core.settings.

Keys other than these are kept as they are (the admin may hold notes or settings of a later
version); those below must have the right type, or the connector cannot be saved."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from core import settings as schema

DEFAULT_ACCOUNT_ID = 10000  # the Connect system account of an ERP integration


@dataclass
class NorceSettings:
    application_id: int | None = None  # Norce Admin > Applications; the Query API needs it
    account_id: int = DEFAULT_ACCOUNT_ID  # Connect's AccountId sent with imports and order statuses
    scope: str = "prod"  # the OAuth scope: "prod", or "playground" for Norce's test environment
    job_events: bool = False  # Norce posts JobCompletedEvent to Brygga (then jobs are checked as a safety net)
    freight_part_nos: list[str] = field(default_factory=list)  # part numbers that are freight on Query orders


# Norce's tenant-specific ids → ISO codes, for reading Query orders: {"1": "SEK"}.
ID_MAPPINGS = ("currency_ids", "country_ids")


def validate_settings(raw: dict[str, Any] | None) -> dict[str, Any]:
    """The connector settings with these keys checked and normalised; ValueError naming every problem."""
    raw = dict(raw or {})
    settings, problems = schema.read(NorceSettings, raw)
    for key in ID_MAPPINGS:
        value = raw.get(key)
        if key in raw and not (isinstance(value, dict) and all(isinstance(v, str) for v in value.values())):
            problems.append(f'{key} must map Norce ids to codes, e.g. {{"1": "SEK"}}')
    if problems:
        raise ValueError("; ".join(problems))
    return {**raw, **{key: value for key, value in asdict(settings).items() if key in raw}}
