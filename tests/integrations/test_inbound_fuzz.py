"""Property tests over the order receiver and the event webhook: whatever arrives — bodies, headers,
encodings, NUL and control characters, sizes, nesting — the answer is never a 5xx, every refusal
is a 4xx with a JSON reason, every request is kept as a Webhook delivery, and every accepted
body is stored (raw bytes as sent, and the order as an Entity)."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from integrations.inbound import MAX_BODY
from integrations.models import Entity, Task, WebhookDelivery
from tests.integrations.test_receiver import order_request

ORDER_NUMBERS = itertools.count(100_000)
GOOD_AUTH = "Basic " + base64.b64encode(b"norce:receiver-secret-value").decode()
SECRET = "event-secret-value"
FUZZ = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)

# Any text: NUL, other control characters, lone surrogates, non-BMP characters.
any_text = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=40)
control_text = st.text(
    st.sampled_from(
        ["\x00", "\x01", "\x1f", "\x7f", "\u2028", "\ufeff", "\ud800", "\udfff", "ö", "😀", "a", "\\", '"']
    ),
    max_size=20,
)
numbers = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=False).map(str),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, any_text, control_text),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.one_of(any_text, control_text), children, max_size=4)
    ),
    max_leaves=20,
)


@st.composite
def order_bodies(draw) -> dict[str, Any]:
    """Orders that are nearly right: one of their fields replaced by anything."""
    ref = draw(
        st.one_of(
            st.integers(min_value=1, max_value=10**25).map(str),
            control_text,
            any_text,
            st.text("0123456789", min_size=95, max_size=110),
            json_values,
        )
    )
    body = order_request(ref if isinstance(ref, str) and ref.strip() else "7" + str(draw(st.integers(0, 10**6))))
    if not isinstance(ref, str):
        body["ClientOrderRef"] = ref
    body["CustomerOrderComment"] = draw(st.one_of(any_text, control_text))
    body["BillTo"]["Person"]["Address"]["Line1"] = draw(st.one_of(any_text, control_text))
    if draw(st.booleans()):
        body["Items"] = [
            dict(item, **{draw(st.sampled_from(["Quantity", "UnitPrice", "VatRate", "PartNo"])): draw(json_values)})
            for item in body["Items"]
        ]
    if draw(st.booleans()):
        key = draw(st.sampled_from(["Items", "BillTo", "CurrencyCode", "SubmitDate", "OrderType", "Payments"]))
        body[key] = draw(json_values)
    return body


def nested(depth: int, kind: str) -> str:
    return ("[" * depth + "]" * depth) if kind == "list" else ('{"a":' * depth + "1" + "}" * depth)


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace")


@st.composite
def raw_bodies(draw, objects) -> tuple[bytes, str]:
    """(bytes, content type): JSON in several encodings and charsets, broken JSON, deep nesting, bytes."""
    choice = draw(st.sampled_from(["json", "json", "json", "broken", "bytes", "nested"]))
    charset = draw(st.sampled_from(["", "utf-8", "utf-16", "latin-1", "utf-7", "rot13", "no-such-charset"]))
    content_type = draw(st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
    content_type = f"{content_type}; charset={charset}" if charset else content_type
    if choice == "bytes":
        return draw(st.binary(max_size=300)), content_type
    if choice == "nested":
        depth = draw(st.sampled_from([10, 63, 65, 500, 5000, 200_000]))
        return nested(depth, draw(st.sampled_from(["list", "object"]))).encode(), content_type
    value = draw(objects)
    text = json.dumps(value, ensure_ascii=draw(st.booleans()), allow_nan=True)
    if choice == "broken":
        cut = draw(st.integers(0, len(text)))
        text = text[:cut] + draw(control_text) + text[cut:]
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "utf-32", "latin-1"]))
    return encode(text, encoding), content_type


def mostly(good: Any, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` three times in four, else something from `bad`."""
    return st.integers(0, 3).flatmap(lambda i: st.just(good) if i < 3 else bad)


authorizations = mostly(
    GOOD_AUTH,
    st.one_of(
        any_text,
        control_text.map(lambda t: "Basic " + t),
        st.binary(max_size=40).map(lambda b: "Basic " + base64.b64encode(b).decode()),
        st.tuples(any_text, any_text).map(
            lambda up: "Basic " + base64.b64encode(f"{up[0]}:{up[1]}".encode("utf-8", "surrogatepass")).decode()
        ),
    ),
)


def assert_kept_and_answered(response, *, data: bytes, before: int, reason_key: str) -> WebhookDelivery:
    assert response.status_code < 500, response.content[:300]
    event(f"HTTP {response.status_code}")
    payload = response.json()  # every answer is JSON
    if response.status_code >= 400:
        assert payload[reason_key], payload
    assert WebhookDelivery.objects.count() == before + 1  # every request is kept
    delivery = WebhookDelivery.objects.order_by("-id").first()
    if response.status_code >= 400:
        assert delivery.outcome == WebhookDelivery.Outcome.REJECTED
    else:
        assert bytes(delivery.raw_body) == data[:MAX_BODY]  # byte for byte
    return delivery


@pytest.fixture
def fuzz_client(integration):
    return Client(), integration


@FUZZ
@given(
    body=raw_bodies(mostly(None, json_values).flatmap(lambda v: order_bodies() if v is None else st.just(v))),
    authorization=authorizations,
)
def test_the_order_receiver_never_fails_and_stores_every_accepted_order(fuzz_client, body, authorization):
    client, integration = fuzz_client
    data, content_type = body
    before = WebhookDelivery.objects.count()
    # generic() sends the bytes as they are, whatever charset the content type names.
    response = client.generic(
        "POST", f"/norce/{integration.pk}/orders", data, content_type=content_type, HTTP_AUTHORIZATION=authorization
    )
    delivery = assert_kept_and_answered(response, data=data, before=before, reason_key="Description")
    if response.status_code == 401:
        assert authorization != GOOD_AUTH
    if response.status_code == 200:
        assert response.json()["StatusCode"] == "OK"
        assert delivery.outcome in (WebhookDelivery.Outcome.ACCEPTED, WebhookDelivery.Outcome.DUPLICATE)
        entity = Entity.objects.get(pk=delivery.entity_id)
        assert entity.source_id == delivery.reference and entity.payload
        assert Task.objects.filter(params__entity_ids=[entity.pk]).exists()


@st.composite
def event_bodies(draw) -> Any:
    ref = draw(st.one_of(st.integers(min_value=-10, max_value=10**25), any_text, control_text, json_values))
    kind = draw(st.sampled_from(["order", "job", "other"]))
    if kind == "order":
        return {"ClientId": 1234, "ApplicationId": 1244, "ClientOrderRef": ref, "Source": "WEB"}
    if kind == "job":
        return {"JobId": ref, "StatusId": draw(json_values)}
    return draw(json_values)


secrets = mostly(SECRET, st.one_of(any_text, control_text, st.just(SECRET + "\x00"), st.just(None)))


@FUZZ
@given(body=raw_bodies(event_bodies()), secret=secrets)
def test_the_event_webhook_never_fails_and_keeps_every_event(fuzz_client, body, secret):
    client, integration = fuzz_client
    data, content_type = body
    headers = {} if secret is None else {"HTTP_X_BRYGGA_SECRET": secret}
    before = WebhookDelivery.objects.count()
    response = client.generic("POST", f"/norce/{integration.pk}/events", data, content_type=content_type, **headers)
    delivery = assert_kept_and_answered(response, data=data, before=before, reason_key="error")
    if response.status_code == 401:
        assert secret != SECRET
    if (
        response.status_code == 200
        and response.json().get("status") == "accepted"
        and "ClientOrderRef" in response.json()
    ):
        ref = response.json()["ClientOrderRef"]
        assert delivery.reference == ref
        assert Task.objects.filter(params__fetch_refs=[ref]).exists()


@pytest.mark.parametrize("size, status", [(MAX_BODY, 200), (MAX_BODY + 1, 413)], ids=["at-limit", "over-limit"])
def test_the_receivers_size_limit_is_exact(integration, size, status):
    body = order_request("700900", CustomerOrderComment="")
    padding = size - len(json.dumps(body).encode())
    data = json.dumps(order_request("700900", CustomerOrderComment="x" * padding)).encode()
    assert len(data) == size
    response = Client().post(
        f"/norce/{integration.pk}/orders", data=data, content_type="application/json", HTTP_AUTHORIZATION=GOOD_AUTH
    )
    assert response.status_code == status and response.json()["StatusCode"] == ("OK" if status == 200 else "Failed")
    assert len(bytes(WebhookDelivery.objects.get().raw_body)) == min(size, MAX_BODY)
    assert Entity.objects.filter(source_id="700900").exists() == (status == 200)


@FUZZ
@given(
    comment=st.one_of(any_text, control_text),
    line1=st.one_of(any_text, control_text),
    first_name=st.one_of(any_text, control_text),
    ensure_ascii=st.booleans(),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),
)
def test_a_well_formed_order_is_stored_whatever_characters_its_text_holds(
    fuzz_client, comment, line1, first_name, ensure_ascii, encoding
):
    client, integration = fuzz_client
    ref = f"8{next(ORDER_NUMBERS)}"  # a new order each time (examples share the database)
    body = order_request(ref, CustomerOrderComment=comment)
    body["BillTo"]["Person"]["Address"]["Line1"] = line1
    body["BillTo"]["Person"]["FirstName"] = first_name
    text = json.dumps(body, ensure_ascii=ensure_ascii)
    if not ensure_ascii and encoding != "utf-8" and any("\ud800" <= c <= "\udfff" for c in text):
        encoding = "utf-8"  # a lone surrogate only travels escaped, or as UTF-8's surrogate bytes
    data = encode(text, encoding)
    before = WebhookDelivery.objects.count()
    response = client.generic(
        "POST", f"/norce/{integration.pk}/orders", data, content_type="application/json", HTTP_AUTHORIZATION=GOOD_AUTH
    )
    assert response.status_code == 200 and response.json()["StatusCode"] == "OK", response.content[:300]
    delivery = assert_kept_and_answered(response, data=data, before=before, reason_key="Description")
    entity = Entity.objects.get(integration=integration, data_type="order", source_id=ref)
    assert delivery.entity_id == entity.pk
    stored = entity.payload["CustomerOrderComment"]
    # Escaped (ensure_ascii), a surrogate pair is one character to any JSON reader; sent as raw
    # bytes, surrogates are no UTF-8 and arrive replaced.
    sent = json.loads(json.dumps(comment)) if ensure_ascii else comment
    assert "\x00" not in stored and stored.replace("\ufffd", "") == "".join(
        c for c in sent if c != "\x00" and not "\ud800" <= c <= "\udfff"
    ).replace("\ufffd", "")
