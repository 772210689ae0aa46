"""The catalogue Connect imports write and the jobs that write it, with what tests read of them."""

from __future__ import annotations

import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from simulators.base import Response
from simulators.norce.connect.body import _ident, _norm
from simulators.norce.connect.enums import SKU_STATUS
from simulators.norce.connect.header import _enum_value


def _timestamp(epoch: float | None) -> str | None:
    """A JobDto time: UTC, as a .NET DateTime renders without an offset."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _run_time(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class ConnectState:
    """The state of `ConnectImports`: settings, the catalogue and the jobs.

    Stored shapes (only identifiers and written fields, to stay lean at a million SKUs):

    - `skus[PartNo]`: {"PartNo", "Product" (product key or None), "ManufacturerPartNo",
      "Status" (int, 1 when created unless written), written SkuFields by body property
      name (Type and UnitOfMeasurementType as ints, "VatRates", "EanCode", ...), and
      "Cultures": {culture code: {"ErpName", "Comment"}} once one is written}
    - `products[key]` (key = Code, or "ManufacturerCode:ManufacturerPartNo" without one):
      {"Key", "Code", "ManufacturerCode", written ProductFields, "Cultures": {...}}
    - `variants[ManufacturerPartNo]`: {"ManufacturerPartNo", "Product", written VariantFields,
      "Cultures"}, only for variants with written fields
    - `prices[(PartNo, PriceListCode, QuantityBreak)]`: {"PartNo", "PriceListCode",
      "QuantityBreak", "CurrencyCode", "IsActive" (True when created), written fields}
    - `onhands[(PartNo, WarehouseCode, LocationCode)]`: {"PartNo", "WarehouseCode",
      "LocationCode", "IsActive" (True when created), written fields}
    - `customers[Code]` / `companies[Code]`: {"Code", written fields}
    """

    def __init__(self, sim: Any) -> None:
        self.sim = sim  # the NorceSimulator: send_event, error_response, client and application ids
        self.lock = threading.RLock()
        self.clock: Callable[[], float] = time.time  # the simulator's clock (the restart window reads it)
        # Settings.
        self.job_delay = 0.5  # seconds a job waits in the queue before it is processed
        self.fail_next_jobs = 0  # the next N jobs fail (StatusId 3) without applying anything
        self.reject_rows: dict[str, str] = {}  # identifier → message: rows to reject in validation
        # The catalogue.
        self.skus: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.variants: dict[str, dict[str, Any]] = {}
        self.prices: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.onhands: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.companies: dict[str, dict[str, Any]] = {}
        self._product_codes: dict[str, str] = {}  # product Code → product key
        self._sorted_part_nos: list[str] | None = None  # Query's stable order, rebuilt after SKUs are added
        # Jobs.
        self.jobs: dict[int, dict[str, Any]] = {}
        self.imports: list[dict[str, Any]] = []
        self._next_job_id = 100001
        self._queue: deque[int] = deque()
        self._busy: int | None = None
        self._wake = threading.Condition(self.lock)
        self._stop = threading.Event()
        self._worker: threading.Thread | None = None
        self._payloads = tempfile.mkdtemp(prefix="norce-connect-")

    def sku(self, part_no: str) -> dict[str, Any] | None:
        with self.lock:
            return self.skus.get(str(part_no))

    def product_of(self, part_no: str) -> dict[str, Any] | None:
        with self.lock:
            sku = self.skus.get(str(part_no))
            return self.products.get(sku["Product"]) if sku and sku.get("Product") is not None else None

    def product(self, code: str) -> dict[str, Any] | None:
        """A product by its Code (or its key)."""
        with self.lock:
            return self.products.get(self._product_codes.get(code, code))

    def variant(self, manufacturer_part_no: str) -> dict[str, Any] | None:
        with self.lock:
            return self.variants.get(manufacturer_part_no)

    def price(self, part_no: str, price_list_code: str, quantity_break: int = 1) -> dict[str, Any] | None:
        with self.lock:
            return self.prices.get((str(part_no), str(price_list_code), int(quantity_break)))

    def onhand(self, part_no: str, warehouse: str, location: str) -> dict[str, Any] | None:
        with self.lock:
            return self.onhands.get((str(part_no), str(warehouse), str(location)))

    def customer(self, code: str) -> dict[str, Any] | None:
        with self.lock:
            return self.customers.get(str(code))

    def company(self, code: str) -> dict[str, Any] | None:
        with self.lock:
            return self.companies.get(str(code))

    def job_log(self, job_id: int) -> list[dict[str, Any]]:
        with self.lock:
            return list(self.jobs[int(job_id)]["log"])

    def counts(self) -> dict[str, Any]:
        with self.lock:
            statuses: dict[int, int] = {}
            for job in self.jobs.values():
                statuses[job["StatusId"]] = statuses.get(job["StatusId"], 0) + 1
            return {
                "skus": len(self.skus),
                "products": len(self.products),
                "variants": len(self.variants),
                "prices": len(self.prices),
                "onhands": len(self.onhands),
                "customers": len(self.customers),
                "companies": len(self.companies),
                "imports": len(self.imports),
                "jobs": len(self.jobs),
                "job_statuses": statuses,
                "queued": len(self._queue) + (self._busy is not None),
            }

    def settings(self) -> dict[str, Any]:
        with self.lock:
            return {
                "job_delay": self.job_delay,
                "fail_next_jobs": self.fail_next_jobs,
                "reject_rows": dict(self.reject_rows),
            }

    def update_settings(self, values: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(values) - {"job_delay", "fail_next_jobs", "reject_rows"})
        if unknown:
            raise ValueError(f"unknown setting {unknown[0]!r}")
        with self.lock:
            if "job_delay" in values:
                self.job_delay = float(values["job_delay"])
            if "fail_next_jobs" in values:
                self.fail_next_jobs = int(values["fail_next_jobs"])
            if "reject_rows" in values:
                self.reject_rows = {str(k): str(v) for k, v in (values["reject_rows"] or {}).items()}
            self._wake.notify_all()
        return self.settings()

    def age_job(self, job_id: int, days: float) -> None:
        """Move a job's creation `days` back in time (the restart window is 14 days)."""
        with self.lock:
            self.jobs[int(job_id)]["created"] -= days * 24 * 3600

    def seed_skus(self, skus: Iterable[str | dict[str, Any]]) -> int:
        """Create SKUs that come from no import (as if made in Norce Admin): PartNo strings
        or dicts with "PartNo" and optionally "Status" (int or name), "ManufacturerPartNo",
        "ProductCode" and "ManufacturerCode". Returns how many were new."""
        created = 0
        with self.lock:
            for entry in skus:
                data = {"PartNo": entry} if isinstance(entry, str) else _norm(dict(entry))
                part_no = _ident(data.get("PartNo"))
                if part_no is None:
                    raise ValueError(f"a seeded SKU needs a PartNo: {entry!r}")
                status = _enum_value(SKU_STATUS, data.get("Status", 1))
                if status is None:
                    raise ValueError(f"unknown SkuStatus {data.get('Status')!r}")
                product_code = _ident(data.get("ProductCode") or data.get("Code"))
                if product_code is not None and self._product_codes.get(product_code) is None:
                    self.products[product_code] = {
                        "Key": product_code,
                        "Code": product_code,
                        "ManufacturerCode": _ident(data.get("ManufacturerCode")),
                    }
                    self._product_codes[product_code] = product_code
                record = self.skus.get(part_no)
                if record is None:
                    created += 1
                    record = self.skus[part_no] = {"PartNo": part_no, "Product": None, "ManufacturerPartNo": None}
                    self._sorted_part_nos = None
                record["Status"] = status
                if product_code is not None:
                    record["Product"] = self._product_codes[product_code]
                if _ident(data.get("ManufacturerPartNo")):
                    record["ManufacturerPartNo"] = _ident(data.get("ManufacturerPartNo"))
        return created

    def _connect_error(self, status: int, message: str) -> Response:
        return self.sim.error_response(status, message)

    def _log_entry(self, severity: int, message: str, row: int | None) -> dict[str, Any]:
        return {"SeverityId": severity, "Message": message, "TimeStamp": _timestamp(self.clock()), "ImportedRow": row}
