"""Visma.net full-file resyncs: a generated catalogue → Norce Connect, products, prices and stock,
each `manage.py resync <id> <data> --full` in its own process, measured (bench.master_resync)."""

from __future__ import annotations

import gc
import math
import time
from decimal import Decimal
from typing import Any

from bench.erps import VISMANET
from bench.harness import log
from bench.master_resync import connect_jobs, counter_delta, run_resync
from bench.master_world import World
from connectors.vismanet.client import LARGE_PAGE_SIZE
from simulators.vismanet.api import DEFAULT_MAX_PAGE_SIZE

# Items per list page: the client asks for LARGE_PAGE_SIZE; the simulator caps the price list
# at its default maximum (as Visma.net reports its maxPageSize) and lets the inventory list have it.
VISMANET_PAGE = {
    "products": LARGE_PAGE_SIZE,
    "stock": LARGE_PAGE_SIZE,
    "prices": min(LARGE_PAGE_SIZE, DEFAULT_MAX_PAGE_SIZE),
}
FLOWS = {"products": "products_to_commerce", "prices": "prices_to_commerce", "stock": "stock_to_commerce"}
# (key, data, rate limits) in order: Norce takes prices and stock only for SKUs it has.
CASES = (
    ("products-off", "products", False),
    ("products-on", "products", True),
    ("prices-on", "prices", True),
    ("stock-on", "stock", True),
)


def resync_cases(n: int, *, results: dict[str, Any]) -> None:
    """Every case into `results` (by key): products with limits off in a world of its own, then
    products, prices and stock one after the other in one world with every limit on."""
    for limits in (False, True):
        cases = [case for case in CASES if case[2] is limits]
        began = time.time()
        log(f"[vismanet] seeding {n:,} generated items (rate limits {'on' if limits else 'off'})")
        world = World(
            name=f"Bench Visma.net resync, limits {'on' if limits else 'off'}", articles=n, limits=limits, erp=VISMANET
        )
        try:
            for key, data, _ in cases:
                try:
                    results[key] = full_file(world, key, data, n=n, limits=limits)
                except Exception as exc:  # noqa: BLE001 - report it and go on with the next case
                    log(f"[{key}] failed: {type(exc).__name__}: {exc}")
                    results[key] = {"case": key, "data": data, "error": f"{type(exc).__name__}: {exc}"}
                if not results[key].get("complete"):
                    break  # prices and stock need the products in Norce
        finally:
            world.close()
            del world
            gc.collect()
        log(f"[vismanet] limits {'on' if limits else 'off'}: {time.time() - began:.0f}s")


def full_file(world: World, key: str, data: str, *, n: int, limits: bool) -> dict[str, Any]:
    flow = world.flows[FLOWS[data]]
    pages = math.ceil(n / VISMANET_PAGE[data])
    timeout = 240 + n / 250
    before = world.counters()
    log(
        f"[{key}] manage.py resync {world.integration.pk} {data} --full "
        f"(rate limits {'on' if limits else 'off'}, timeout {timeout:.0f}s)"
    )
    measured = run_resync(
        world.integration.pk,
        flow.pk,
        full=True,
        rate_limits=limits,
        key=key,
        timeout=timeout,
        data=data,
        log_name="bench-vismanet-resync",
    )
    world.norce.connect.wait_idle(timeout=120)
    calls = counter_delta(before, world.counters())
    verified = VERIFY[data](world)
    result = {
        "case": key,
        "data": data,
        "n": n,
        "rate_limits": limits,
        **measured,
        "rows_per_second": round(n / measured["wall_seconds"], 1) if measured["wall_seconds"] else None,
        "vismanet_calls": calls["vismanet_api"],
        "vismanet_pages_expected": pages,
        "vismanet_calls_by_endpoint": calls["erp_by_endpoint"],
        "vismanet_429": calls["vismanet_429"],
        # The share of Visma.net's hourly budget (3,600 per company and client) the run used.
        "share_of_hourly_budget": round(calls["vismanet_api"] / VISMANET.limit, 3),
        "connect_imports": calls["imports"],
        "connect_calls": calls["connect"],
        "connect_job_gets": calls["connect_job_get"],
        "norce_429": calls["norce_429"],
        "token_calls": {"vismanet": calls["vismanet_token"], "norce": calls["norce_token"]},
        "jobs": connect_jobs(flow),
        "verify": verified,
        "complete": measured["exit_code"] == 0 and verified["equal"],
    }
    log(
        f"[{key}] {measured['wall_seconds']:.1f}s, exit {measured['exit_code']}, peak RSS "
        f"{measured['peak_rss_mb']} MB, {calls['vismanet_api']} Visma.net call(s), {calls['imports']} import(s), "
        f"{calls['connect']} Connect call(s), Norce {verified['norce_rows']:,} rows, equal={verified['equal']}"
    )
    if measured["exit_code"] != 0:
        log(f"[{key}] resync output:\n{measured['output_tail']}")
    return result


# -- Norce against Visma.net -------------------------------------------------------------------
def verify_products(world: World) -> dict[str, Any]:
    found = world.verify()
    return {**found, "norce_rows": found["norce_skus"]}


def verify_prices(world: World) -> dict[str, Any]:
    """Norce's prices (the default price list, quantity 1) against the items' Base prices."""
    from connectors.norce.catalogue_settings import NorcePriceSettings

    price_list = NorcePriceSettings().norce_price_list_code
    segment, row = world.erp.catalogue(world.erp_sim)
    connect = world.norce.connect
    with connect.lock:
        rows = sum(1 for (_, code, _) in connect.prices if code == price_list)
    mismatches = []
    indices = world.sample_indices(segment.count)
    for index in indices:
        number = row(index)[0]
        price = connect.price(number, price_list)
        expected = segment.base_price(index)
        if price is None:
            mismatches.append(f"{number}: missing")
        elif Decimal(str(price.get("PriceSale"))) != expected:
            mismatches.append(f"{number}: PriceSale {price.get('PriceSale')} ≠ {expected}")
    return _verified(rows, world.articles, indices, mismatches, price_list=price_list)


def verify_stock(world: World) -> dict[str, Any]:
    """Norce's onhand (default warehouse and location) against the items' stock."""
    from connectors.norce.catalogue_settings import NorceStockSettings

    settings = NorceStockSettings()
    warehouse, location = settings.warehouse_code, settings.location_code
    segment, row = world.erp.catalogue(world.erp_sim)
    connect = world.norce.connect
    with connect.lock:
        rows = sum(1 for (_, w, loc) in connect.onhands if (w, loc) == (warehouse, location))
    mismatches = []
    indices = world.sample_indices(segment.count)
    for index in indices:
        number = row(index)[0]
        onhand = connect.onhand(number, warehouse, location)
        expected = segment.on_hand(index)
        if onhand is None:
            mismatches.append(f"{number}: missing")
        elif Decimal(str(onhand.get("OnhandValue") or 0)) != expected:
            mismatches.append(f"{number}: OnhandValue {onhand.get('OnhandValue')} ≠ {expected}")
    return _verified(rows, world.articles, indices, mismatches, warehouse=f"{warehouse}/{location}")


def _verified(rows: int, expected: int, indices: list[int], mismatches: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "norce_rows": rows,
        "vismanet_items": expected,
        "spot_checked": len(indices),
        "mismatches": mismatches[:10],
        "equal": rows == expected and not mismatches,
        **extra,
    }


VERIFY = {"products": verify_products, "prices": verify_prices, "stock": verify_stock}
