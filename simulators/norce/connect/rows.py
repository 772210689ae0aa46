"""Applying a job's rows: validation and writes per import method (products, prices,
onhands, customers, companies), then the FullFile deactivation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from simulators.norce.connect.body import _ident, _norm, _number, _valid_ean
from simulators.norce.connect.enums import (
    ACCOUNT_STATUS,
    ERROR,
    INFORMATION,
    SKU_STATUS,
    SKU_TYPE,
    UNIT_OF_MEASUREMENT_TYPE,
    WARNING,
)
from simulators.norce.connect.header import FieldPlan, ImportMethod, _enum_value, _plans
from simulators.norce.connect.state import ConnectState, _timestamp

MAX_WARNINGS = 1000  # per job; further ignored rows are summed up in one entry


class RowError(Exception):
    """A row that fails validation: not applied, logged with SeverityId 3."""

    def __init__(self, label: str, message: str) -> None:
        super().__init__(message)
        self.label, self.message = label, message


class _Run:
    """One processing of a job: validates and applies rows, then FullFile deactivation."""

    def __init__(self, imports: ConnectState, job: dict[str, Any], method: ImportMethod) -> None:
        self.imports, self.job, self.method = imports, job, method
        self.plans = _plans(method, job["header"])
        self.full_file = job["full_file"]
        self.seen: set[Any] = set()  # what the job names (for FullFile)
        self.scopes: set[Any] = set()  # price lists / warehouse-location pairs the job names
        self.warnings = 0
        self.apply_row: Callable[[dict[str, Any]], None] = getattr(self, f"_{method.kind}")

    # -- bookkeeping --------------------------------------------------------------------------------
    def apply(self, batch: list[tuple[int, Any]]) -> None:
        if not batch:
            return
        imports = self.imports
        with imports.lock:
            for row_no, item in batch:
                self.row_no = row_no
                try:
                    if not isinstance(item, dict):
                        raise RowError("", f"expected a JSON object, got {type(item).__name__}")
                    self.apply_row(_norm(item))
                except RowError as exc:
                    self.job["Fail"] += 1
                    label = f" ({exc.label})" if exc.label else ""
                    self.job["log"].append(imports._log_entry(ERROR, f"Row {row_no}{label}: {exc.message}", row_no))
            self.job["LastUpdated"] = _timestamp(imports.clock())

    def ignored(self, label: str, message: str) -> None:
        self.job["ignored"] += 1
        self.warnings += 1
        if self.warnings <= MAX_WARNINGS:
            self.job["log"].append(
                self.imports._log_entry(WARNING, f"Row {self.row_no} ({label}): {message}", self.row_no)
            )

    def counted(self, created: bool) -> None:
        if created:
            self.job["Inserts"] += 1
        else:
            self.job["Updates"] += 1

    def check_rejected(self, *identifiers: tuple[str, str | None]) -> None:
        rejects = self.imports.reject_rows
        if not rejects:
            return
        for kind, value in identifiers:
            if value is not None and value in rejects:
                raise RowError(f"{kind} {value}", rejects[value])

    def finish(self) -> None:
        imports, job = self.imports, self.job
        with imports.lock:
            if self.full_file:
                # FullFile read as the older Norce documentation words it: whatever the
                # job does not name is deactivated (the newer text only speaks of SKUs
                # leaving a variant cluster, and the price/onhand pages look copied).
                deactivated = getattr(self, f"_deactivate_{self.method.kind}")()
                job["deactivated"] += deactivated
                job["Updates"] += deactivated
                if deactivated:
                    job["log"].append(
                        imports._log_entry(
                            INFORMATION, f"FullFile: {deactivated} record(s) not in the job were deactivated", None
                        )
                    )
            if self.warnings > MAX_WARNINGS:
                job["log"].append(
                    imports._log_entry(WARNING, f"... and {self.warnings - MAX_WARNINGS} more row(s) ignored", None)
                )
            job["log"].append(
                imports._log_entry(
                    INFORMATION,
                    f"{job['Totals']} row(s): {job['Inserts']} inserted, {job['Updates']} updated, "
                    f"{job['Fail']} failed, {job['ignored']} ignored",
                    None,
                )
            )

    @staticmethod
    def write(
        record: dict[str, Any],
        data: dict[str, Any],
        plan: FieldPlan,
        created: bool,
        convert: Callable[[str, Any], Any] | None = None,
    ) -> None:
        """Copy the listed, non-null properties of `data` onto `record`."""
        for name in plan.fields(created):
            value = data.get(name)
            if value is not None:
                record[name] = convert(name, value) if convert else value

    def write_cultures(self, record: dict[str, Any], cultures: Any, plan: FieldPlan, created: bool) -> None:
        if not plan.always and not plan.create_only or not isinstance(cultures, list):
            return
        for culture in cultures:
            if not isinstance(culture, dict):
                continue
            culture = _norm(culture)
            code = _ident(culture.get("CultureCode"))
            if code is None:
                continue
            target = record.setdefault("Cultures", {})
            known = code in target
            entry = target.setdefault(code, {})
            self.write(entry, culture, plan, created or not known)
            if not entry:
                del target[code]
            if not target:
                del record["Cultures"]

    # -- ImportProducts ------------------------------------------------------------------------------
    _SKU_ENUMS = {"Status": SKU_STATUS, "Type": SKU_TYPE, "UnitOfMeasurementType": UNIT_OF_MEASUREMENT_TYPE}

    def _products(self, row: dict[str, Any]) -> None:
        imports, plans = self.imports, self.plans
        code, manufacturer = _ident(row.get("Code")), _ident(row.get("ManufacturerCode"))
        variants = row.get("Variants") or []
        if not isinstance(variants, list):
            raise RowError(f"Code {code}" if code else "", "Variants must be a list")
        skus: list[tuple[dict[str, Any], str | None, dict[str, Any], str | None]] = []  # variant, MPN, sku, PartNo
        for variant in variants:
            if not isinstance(variant, dict):
                raise RowError(f"Code {code}" if code else "", "a variant is not a JSON object")
            variant = _norm(variant)
            mpn = _ident(variant.get("ManufacturerPartNo"))
            for sku in variant.get("Skus") or []:
                if not isinstance(sku, dict):
                    raise RowError(f"ManufacturerPartNo {mpn}" if mpn else "", "a SKU is not a JSON object")
                sku = _norm(sku)
                skus.append((variant, mpn, sku, _ident(sku.get("PartNo"))))
        for _, _, _, part_no in skus:
            if part_no is not None:
                self.seen.add(part_no)
        label = next((f"PartNo {p}" for *_, p in skus if p), None) or (
            f"Code {code}" if code else f"ManufacturerCode {manufacturer}" if manufacturer else ""
        )

        # Validation: the whole row or nothing.
        self.check_rejected(
            ("Code", code), *(("PartNo", p) for *_, p in skus), *(("ManufacturerPartNo", m) for _, m, _, _ in skus)
        )
        sku_plan, price_plan = plans["SkuFieldsThatAreSet"], plans["SkuPriceListFieldsThatAreSet"]
        for _, mpn, sku, part_no in skus:
            if part_no is None:
                raise RowError(label, "a SKU has no PartNo")
            where = f"PartNo {part_no}"
            if part_no not in imports.skus and (manufacturer is None or mpn is None):
                raise RowError(where, "a new SKU needs ManufacturerCode (product) and ManufacturerPartNo (variant)")
            ean = sku.get("EanCode")
            if "EanCode" in sku_plan and ean not in (None, "") and not _valid_ean(ean):
                raise RowError(where, f"EanCode {ean!r} is not a valid EAN (8, 12, 13 or 14 digits)")
            for name, table in self._SKU_ENUMS.items():
                value = sku.get(name)
                if name in sku_plan and value is not None and _enum_value(table, value) is None:
                    enum = {"Status": "SkuStatus", "Type": "SkuType"}.get(name, "UnitOfMeasurementType")
                    raise RowError(where, f"{name} {value!r} is not a known {enum}")
            standard = sku.get("StandardPrice")
            if "StandardPrice" in sku_plan.names and standard is not None:
                if not isinstance(standard, dict):
                    raise RowError(where, "StandardPrice is not a JSON object")
                self._check_price(_norm(standard), where, price_plan)
        key = self._product_key(code, manufacturer, skus)
        if key is None:
            if not code and not manufacturer:
                raise RowError(label, "the product has no identifier (Code, ManufacturerCode or a SKU PartNo)")
            raise RowError(label, "product not found, and the row has no SKU to create it with")

        # Apply.
        product = imports.products.get(key)
        product_created = product is None
        if product is None:
            product = imports.products[key] = {"Key": key, "Code": code, "ManufacturerCode": manufacturer}
        else:
            if code is not None:
                product["Code"] = code
            if manufacturer is not None:
                product["ManufacturerCode"] = manufacturer
        if code is not None:
            imports._product_codes[code] = key
        self.write(product, row, plans["ProductFieldsThatAreSet"], product_created)
        self.write_cultures(product, row.get("Cultures"), plans["ProductCultureFieldsThatAreSet"], product_created)

        variant_plan, variant_cultures = plans["VariantFieldsThatAreSet"], plans["VariantCultureFieldsThatAreSet"]
        sku_cultures = plans["SkuCultureFieldsThatAreSet"]
        done_variants: set[int] = set()
        for variant, mpn, sku, part_no in skus:
            record = imports.skus.get(part_no)
            created = record is None
            if created:
                record = imports.skus[part_no] = {
                    "PartNo": part_no,
                    "Product": key,
                    "ManufacturerPartNo": mpn,
                    "Status": SKU_STATUS["Active"],
                }
                imports._sorted_part_nos = None
            elif mpn is not None:
                record["ManufacturerPartNo"] = mpn
            self.write(record, sku, sku_plan, created, self._sku_value)
            self.write_cultures(record, sku.get("Cultures"), sku_cultures, created)
            standard = sku.get("StandardPrice")
            if "StandardPrice" in sku_plan.names and isinstance(standard, dict):
                self._write_price(part_no, _norm(standard), price_plan, count=False)
            self.counted(created)
            if (
                mpn is not None
                and id(variant) not in done_variants
                and (
                    variant_plan.always
                    or variant_cultures.always
                    or variant_plan.create_only
                    or variant_cultures.create_only
                )
            ):
                done_variants.add(id(variant))
                stored = imports.variants.get(mpn)
                new_variant = stored is None
                stored = dict(stored or {"ManufacturerPartNo": mpn, "Product": key})
                self.write(stored, variant, variant_plan, new_variant)
                self.write_cultures(stored, variant.get("Cultures"), variant_cultures, new_variant)
                if len(stored) > 2:
                    imports.variants[mpn] = stored

    def _product_key(self, code: str | None, manufacturer: str | None, skus: list[tuple[Any, ...]]) -> str | None:
        imports = self.imports
        if code is not None and code in imports._product_codes:
            return imports._product_codes[code]
        for _, _, _, part_no in skus:
            existing = imports.skus.get(part_no)
            if existing is not None and existing.get("Product") is not None:
                return existing["Product"]
        new_skus = [(mpn, part_no) for _, mpn, _, part_no in skus if part_no not in imports.skus]
        if not new_skus and not any(p in imports.skus for *_, p in skus):
            return None
        if code is not None:
            return code
        if manufacturer is not None:
            first_mpn = next((mpn for mpn, _ in new_skus if mpn), None) or next(
                (mpn for _, mpn, _, _ in skus if mpn), None
            )
            return f"{manufacturer}:{first_mpn}" if first_mpn else None
        return None

    def _sku_value(self, name: str, value: Any) -> Any:
        table = self._SKU_ENUMS.get(name)
        if table is not None:
            return _enum_value(table, value)
        if name == "EanCode":
            return str(value).strip()
        return value

    # -- ImportSkuPriceLists --------------------------------------------------------------------------
    _PRICE_NUMBERS = (
        "PriceSale",
        "CostPurchase",
        "CostUnit",
        "PriceRecommended",
        "PricePrevious",
        "PriceCatalog",
        "PriceRuleValue",
    )

    def _check_price(self, row: dict[str, Any], label: str, plan: FieldPlan) -> None:
        if _ident(row.get("PriceListCode")) is None:
            raise RowError(label, "PriceListCode is missing")
        quantity = row.get("QuantityBreak")
        number = _number(quantity)
        if quantity is not None and (number is None or not float(number).is_integer() or number < 0):
            raise RowError(label, f"QuantityBreak {quantity!r} is not a whole number")
        for name in self._PRICE_NUMBERS:
            value = row.get(name)
            if name in plan and value is not None and _number(value) is None:
                raise RowError(label, f"{name} {value!r} is not a number")
        sale = _number(row.get("PriceSale"))
        if "PriceSale" in plan and sale is not None and sale < 0:
            raise RowError(label, f"PriceSale {row.get('PriceSale')} is negative")

    def _prices(self, row: dict[str, Any]) -> None:
        part_no = _ident(row.get("PartNo"))
        price_list = _ident(row.get("PriceListCode"))
        if price_list is not None:
            self.scopes.add(price_list)
        label = f"PartNo {part_no}" if part_no else ""
        if part_no is None:
            raise RowError(label, "PartNo is missing")
        self.seen.add((part_no, price_list, _quantity_break(row)))
        self.check_rejected(("PartNo", part_no))
        plan = self.plans["SkuPriceListFieldsThatAreSet"]
        self._check_price(row, label, plan)
        if part_no not in self.imports.skus:
            # Prices for SKUs that do not exist are ignored, not an error.
            self.ignored(label, f"SKU does not exist; price for {price_list} ignored")
            return
        self._write_price(part_no, row, plan, count=True)

    def _write_price(self, part_no: str, row: dict[str, Any], plan: FieldPlan, *, count: bool) -> None:
        price_list, quantity = _ident(row.get("PriceListCode")), _quantity_break(row)
        for name in self.plans["IgnoreSkuPriceListFieldsWhenEmpty"].fields(True):
            if _empty_price_value(row.get(name)):
                if count:
                    self.ignored(f"PartNo {part_no}", f"{name} is empty; price row for {price_list} skipped")
                return
        key = (part_no, price_list, quantity)
        record = self.imports.prices.get(key)
        created = record is None
        if created:
            record = self.imports.prices[key] = {
                "PartNo": part_no,
                "PriceListCode": price_list,
                "QuantityBreak": quantity,
                "IsActive": True,
            }
        if _ident(row.get("CurrencyCode")):
            record["CurrencyCode"] = _ident(row.get("CurrencyCode"))
        for name in plan.fields(created):
            value = row.get(name)
            if name in self._PRICE_NUMBERS:
                # "Values that are null or 0 will be ignored" (SkuPriceListHeader).
                number = _number(value)
                if number:
                    record[name] = number
            elif value is not None:
                record[name] = value
        if count:
            self.counted(created)

    # -- ImportOnhands ---------------------------------------------------------------------------------
    _ONHAND_NUMBERS = (
        "OnhandValue",
        "IncomingValue",
        "LeadTimeDayCount",
        "OnOrderValue",
        "MinimumValue",
        "MaximumValue",
    )

    def _onhands(self, row: dict[str, Any]) -> None:
        part_no = _ident(row.get("PartNo"))
        warehouse, location = _ident(row.get("WarehouseCode")), _ident(row.get("LocationCode"))
        label = f"PartNo {part_no}" if part_no else ""
        if warehouse is not None and location is not None:
            self.scopes.add((warehouse, location))
            if part_no is not None:
                self.seen.add((part_no, warehouse, location))
        if part_no is None:
            raise RowError(label, "PartNo is missing")
        self.check_rejected(("PartNo", part_no))
        if warehouse is None:
            raise RowError(label, "WarehouseCode is missing")
        if location is None:
            raise RowError(label, "LocationCode is missing")
        plan = self.plans["SkuOnhandFieldsThatAreSet"]
        for name in self._ONHAND_NUMBERS:
            value = row.get(name)
            if name in plan and value is not None and _number(value) is None:
                raise RowError(label, f"{name} {value!r} is not a number")
        if part_no not in self.imports.skus:
            # Stock for SKUs that do not exist is ignored, not an error.
            self.ignored(label, f"SKU does not exist; stock for {warehouse}/{location} ignored")
            return
        key = (part_no, warehouse, location)
        record = self.imports.onhands.get(key)
        created = record is None
        if created:
            record = self.imports.onhands[key] = {
                "PartNo": part_no,
                "WarehouseCode": warehouse,
                "LocationCode": location,
                "IsActive": True,
            }
        self.write(
            record, row, plan, created, lambda name, value: _number(value) if name in self._ONHAND_NUMBERS else value
        )
        self.counted(created)

    # -- ImportCustomers / ImportCompanies ---------------------------------------------------------------
    def _customers(self, row: dict[str, Any]) -> None:
        code = _ident(row.get("Code"))
        if code is None:
            raise RowError("", "the customer has no Code")
        self.check_rejected(("Code", code))
        self._write_customer(code, row)

    def _write_customer(self, code: str, row: dict[str, Any]) -> None:
        record = self.imports.customers.get(code)
        created = record is None
        if created:
            record = self.imports.customers[code] = {"Code": code}
        plan = self.plans["CustomerFieldsThatAreSet"]
        self.write(record, row, plan, created)
        if "Accounts" in plan and isinstance(row.get("Accounts"), list):
            record["Accounts"] = [self._account(a, created) for a in row["Accounts"] if isinstance(a, dict)]
        self.counted(created)

    def _account(self, account: dict[str, Any], created: bool) -> dict[str, Any]:
        """An account's login and the listed AccountFields (never the password)."""
        account = _norm(account)
        plan = self.plans["AccountFieldsThatAreSet"]
        stored = {"LoginName": account.get("LoginName")}
        if "Status" in plan.fields(created) and account.get("Status") is not None:
            stored["Status"] = _enum_value(ACCOUNT_STATUS, account["Status"]) or account["Status"]
        if "Roles" in plan.fields(created) and account.get("Roles") is not None:
            stored["Roles"] = account["Roles"]
        return stored

    def _companies(self, row: dict[str, Any]) -> None:
        code = _ident(row.get("Code"))
        if code is None:
            raise RowError("", "the company has no Code")
        self.check_rejected(("Code", code))
        record = self.imports.companies.get(code)
        created = record is None
        if created:
            record = self.imports.companies[code] = {"Code": code}
        plan = self.plans["CompanyFieldsThatAreSet"]
        self.write(record, row, plan, created)
        if "Customers" in plan and isinstance(row.get("Customers"), list):
            # Customers inside a company are imported with CustomerFieldsThatAreSet.
            codes = []
            for customer in row["Customers"]:
                customer_code = _ident(_norm(customer).get("Code")) if isinstance(customer, dict) else None
                if customer_code is not None:
                    self.imports.customers.setdefault(customer_code, {"Code": customer_code})
                    self.write(
                        self.imports.customers[customer_code],
                        _norm(customer),
                        self.plans["CustomerFieldsThatAreSet"],
                        False,
                    )
                    codes.append(customer_code)
            record["Customers"] = codes
        self.counted(created)

    # -- FullFile ---------------------------------------------------------------------------------------
    def _deactivate_products(self) -> int:
        count = 0
        for part_no, sku in self.imports.skus.items():
            if part_no not in self.seen and sku.get("Status") != SKU_STATUS["Inactive"]:
                sku["Status"] = SKU_STATUS["Inactive"]
                count += 1
        return count

    def _deactivate_prices(self) -> int:
        count = 0
        for key, price in self.imports.prices.items():
            if key[1] in self.scopes and key not in self.seen and price.get("IsActive") is not False:
                price["IsActive"] = False
                count += 1
        return count

    def _deactivate_onhands(self) -> int:
        count = 0
        for key, onhand in self.imports.onhands.items():
            if (
                key[1:] in self.scopes
                and key not in self.seen
                and (onhand.get("IsActive") is not False or onhand.get("OnhandValue"))
            ):
                onhand["OnhandValue"], onhand["IsActive"] = 0, False
                count += 1
        return count

    def _deactivate_customers(self) -> int:
        return 0

    _deactivate_companies = _deactivate_customers


def _quantity_break(row: dict[str, Any]) -> int:
    """QuantityBreak, 1 when absent (or 0)."""
    number = _number(row.get("QuantityBreak"))
    return int(number) if number else 1


def _empty_price_value(value: Any) -> bool:
    if value is None or value == "":
        return True
    number = _number(value)
    return number == 0 and not isinstance(value, bool)
