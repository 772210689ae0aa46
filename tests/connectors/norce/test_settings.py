"""A Norce connector's settings: known keys checked and normalised, other keys kept."""

from __future__ import annotations

import pytest

from connectors.norce.settings import validate_settings


def test_known_keys_are_normalised_and_other_keys_kept():
    raw = {"application_id": "1244", "scope": "playground", "note": "shop in Malmö", "currency_ids": {"1": "SEK"}}
    assert validate_settings(raw) == {
        "application_id": 1244,
        "scope": "playground",
        "note": "shop in Malmö",
        "currency_ids": {"1": "SEK"},
    }
    assert validate_settings({}) == {}


@pytest.mark.parametrize(
    "raw, said",
    [
        ({"application_id": "web shop"}, "application_id must be a whole number"),
        ({"account_id": -1}, "account_id must be a whole number"),
        ({"job_events": "yes"}, "job_events must be true or false"),
        ({"freight_part_nos": "FRAKT"}, "freight_part_nos must be a list of strings"),
        ({"currency_ids": ["SEK"]}, "currency_ids must map Norce ids to codes"),
        ({"country_ids": {"1": 752}}, "country_ids must map Norce ids to codes"),
    ],
)
def test_a_wrong_value_is_refused_naming_the_key(raw, said):
    with pytest.raises(ValueError) as refused:
        validate_settings(raw)
    assert said in str(refused.value)
