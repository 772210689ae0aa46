"""Prices and stock wait for their products: a row naming a SKU the products flow has not yet
created in the webshop is held back, and goes as soon as the products job has ended."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from integrations import services
from integrations.models import Entity, Flow, Task

SENDABLE = (Entity.Status.PENDING, Entity.Status.FAILED)
PRODUCTS_KIND = "products_to_commerce"
# Flows whose rows name a SKU that the products flow creates in the webshop.
NEEDS_PRODUCTS = ("prices_to_commerce", "stock_to_commerce")


def sendable(flow: Flow):
    return Entity.objects.filter(
        integration_id=flow.integration_id, data_type=flow.data_type, status__in=SENDABLE, payload__flow_id=flow.pk
    )


def products_loaded(products: Flow) -> bool:
    """Whether the products flow has read the catalogue at least once (its cursor is set, or a
    run of it finished)."""
    if services.get_cursor(products.integration, products.data_type, products.direction) is not None:
        return True
    return Task.objects.filter(flow=products, status__in=(Task.Status.SUCCEEDED, Task.Status.PARTLY_FAILED)).exists()


def waiting_for_products(flow: Flow) -> Q | None:
    """A filter on the flow's records: those whose SKU the products flow has not created in the webshop yet.
    None when the flow does not wait (not prices or stock, or no enabled products flow).

    A record waits while the product record of its SKU exists in Brygga and the webshop has never
    confirmed it (it is pending, on its way, or needs attention first). A SKU without a product
    record waits only until the products flow has read the catalogue once (a new integration's
    first run); after that, it is a SKU the webshop has from elsewhere (a shop connected with its
    catalogue in place), so its rows go at once and the webshop decides."""
    if flow.kind not in NEEDS_PRODUCTS:
        return None
    products = Flow.objects.filter(integration_id=flow.integration_id, kind=PRODUCTS_KIND, enabled=True).first()
    if products is None:  # the products are kept in the webshop by other means
        return None
    product = Entity.objects.filter(
        integration_id=flow.integration_id, data_type=products.data_type, source_id=OuterRef("reference")
    )
    if products_loaded(products):
        return Q(Exists(product.filter(sent_hash="")))
    return ~Q(Exists(product.exclude(sent_hash="")))


def ready(flow: Flow):
    """The flow's sendable records that may go now."""
    waiting = waiting_for_products(flow)
    return sendable(flow) if waiting is None else sendable(flow).exclude(waiting)


def held_back(flow: Flow):
    """The flow's sendable records that wait for their products."""
    waiting = waiting_for_products(flow)
    return sendable(flow).none() if waiting is None else sendable(flow).filter(waiting)


def release_dependents(products: Flow) -> list[Task]:
    """After a products job ended: a send for each prices/stock flow with records that may go now."""
    queued = []
    for flow in Flow.objects.filter(integration_id=products.integration_id, kind__in=NEEDS_PRODUCTS, enabled=True):
        if ready(flow).exists():
            task = services.queue_follow_up(flow, {"send_only": True})
            if task is not None:
                queued.append(task)
    return queued
