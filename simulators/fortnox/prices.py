"""Price lists and prices: /3/pricelists[/{Code}] (GET list/one, POST, PUT) and
/3/prices[/...] (POST; GET/PUT the first or one price, DELETE one; GET the sublist of an
article or of a whole list)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.catalogue import Segment, SegmentsRun, merge_window
from simulators.fortnox.errors import ApiError, Code
from simulators.fortnox.values import STOCKHOLM, natural_key, number, to_decimal

DEFAULT_PRICE_LIST = "A"  # the price list whose price at FromQuantity 0 is the article's SalesPrice

PRICE_LIST_WRITABLE = frozenset({"Code", "Comments", "Description", "PreSelected"})
PRICE_LIST_READ_ONLY = frozenset({"@url"})
# Date is in the payload schema, but the simulator stamps it itself (the time of the change).
PRICE_WRITABLE = frozenset({"ArticleNumber", "FromQuantity", "Percent", "Price", "PriceList"})
PRICE_READ_ONLY = frozenset({"@url", "Date"})


@dataclass
class PriceEntry:
    price: Decimal
    percent: Decimal
    changed: datetime  # Swedish local time of the last change (the price's Date)


class PriceResource(FortnoxApi):
    """Price lists and their prices by article and FromQuantity."""

    def set_price(self, price_list: str, article_number: str, price: Any, from_quantity: Any = 0) -> dict[str, Any]:
        """Create or change a price; list A at FromQuantity 0 is also the article's SalesPrice."""
        with self.lock:
            code = self._price_list_or_404(price_list)["Code"]
            number_ = self._article_number_or_404(str(article_number))
            entry = self._write_price(
                code, number_, to_decimal(from_quantity, "FromQuantity"), price=to_decimal(price, "Price")
            )
            return self._price_body(code, number_, to_decimal(from_quantity), entry)

    def _price_list_or_404(self, code: str) -> dict[str, Any]:
        # Price list codes are kept in upper case and looked up without regard to case.
        price_list = self.price_lists.get(str(code).strip().upper())
        if price_list is None:
            raise ApiError(404, f"Kan inte hitta prislistan ({code}).", Code.PRICE_LIST_NOT_FOUND)
        return price_list

    def _price_list_body(self, price_list: dict[str, Any]) -> dict[str, Any]:
        return {"@url": self._url(f"/3/pricelists/{price_list['Code']}"), **price_list}

    def _list_price_lists(self, request: Request) -> Response:
        return Response(body={"PriceLists": [self._price_list_body(p) for p in self.price_lists.values()]})

    def _get_price_list(self, request: Request) -> Response:
        return Response(body={"PriceList": self._price_list_body(self._price_list_or_404(request.params["code"]))})

    def _post_price_list(self, request: Request) -> Response:
        data = self._payload(request, "PriceList", PRICE_LIST_WRITABLE, PRICE_LIST_READ_ONLY)
        code = str(data.get("Code") or "").strip().upper()
        if not code:
            raise ApiError(400, "Kod måste anges.", Code.NO_IDENTIFIER)
        if code in self.price_lists:
            raise ApiError(400, f"Prislistan {code} finns redan.", Code.NUMBER_USED)
        price_list = {"Code": code, "Description": "", "Comments": "", "PreSelected": False}
        self._apply_price_list(price_list, data)
        self.price_lists[code] = price_list
        self.prices.setdefault(code, {})
        return Response(status=201, body={"PriceList": self._price_list_body(price_list)})

    def _put_price_list(self, request: Request) -> Response:
        price_list = self._price_list_or_404(request.params["code"])
        data = self._payload(request, "PriceList", PRICE_LIST_WRITABLE, PRICE_LIST_READ_ONLY)
        if "Code" in data and str(data.pop("Code")).strip().upper() != price_list["Code"]:
            raise ApiError(400, "Koden kan inte ändras.", Code.INVALID_VALUE)
        self._apply_price_list(price_list, data)
        return Response(body={"PriceList": self._price_list_body(price_list)})

    def _apply_price_list(self, price_list: dict[str, Any], data: dict[str, Any]) -> None:
        data.pop("Code", None)
        if ("Description" in data or not price_list["Description"]) and not str(data.get("Description") or "").strip():
            raise ApiError(400, "Benämning måste anges.", Code.DESCRIPTION_REQUIRED)
        if data.get("PreSelected"):
            # One price list is preselected (for new customers); SalesPrice stays tied to list A.
            for other in self.price_lists.values():
                other["PreSelected"] = False
        price_list.update(data)

    def _article_prices(self, price_list: str, number_: str) -> dict[Decimal, PriceEntry]:
        """An article's prices in a list, by FromQuantity (a generated article's list-A price included)."""
        stored = self.prices.get(price_list, {}).get(number_)
        if stored is not None:
            return stored
        if price_list == DEFAULT_PRICE_LIST:
            ref = self._generated_ref(number_)
            if ref is not None:
                return {Decimal(0): self._generated_price(*ref)}
        return {}

    @staticmethod
    def _generated_price(segment: Segment, index: int) -> PriceEntry:
        ore, _ = segment.sales_price_ore(index)
        return PriceEntry(Decimal(ore) / 100, Decimal(0), segment.modified)

    def _write_price(
        self,
        price_list: str,
        number_: str,
        from_quantity: Decimal,
        *,
        price: Decimal | None = None,
        percent: Decimal | None = None,
        article: dict[str, Any] | None = None,
    ) -> PriceEntry:
        """Create or change a price and stamp its Date; list A at FromQuantity 0 is also SalesPrice.

        Only the price's time changes: whether Fortnox also counts the article as changed
        is undocumented, so article lists by lastmodified do not see a price change.
        """
        if price_list == DEFAULT_PRICE_LIST and article is None:
            article = self._article_for_write(number_)  # materialise a generated article: SalesPrice may change
        if from_quantity < 0:
            raise ApiError(400, f"Ogiltigt värde ({from_quantity}) i FromQuantity", Code.INVALID_VALUE)
        prices = self.prices.setdefault(price_list, {}).setdefault(number_, {})
        entry = prices.get(from_quantity) or PriceEntry(Decimal(0), Decimal(0), self.clock())
        if price is not None:
            entry.price = price
        if percent is not None:
            entry.percent = percent
        entry.changed = self.clock()
        prices[from_quantity] = entry
        if article is not None and from_quantity == 0:
            article["SalesPrice"] = number(entry.price)
        return entry

    def _price_body(self, price_list: str, number_: str, from_quantity: Decimal, entry: PriceEntry) -> dict[str, Any]:
        quantity = number(from_quantity)
        return {
            "@url": self._url(f"/3/prices/{price_list}/{number_}/{quantity}"),
            "ArticleNumber": number_,
            # Swedish local time with its offset (the spec types Date as date-time).
            "Date": entry.changed.replace(tzinfo=STOCKHOLM).isoformat(),
            "FromQuantity": quantity,
            "Percent": number(entry.percent),
            "Price": number(entry.price),
            "PriceList": price_list,
        }

    def _price_target(self, request: Request) -> tuple[str, str, Decimal]:
        """(price list, article, FromQuantity) of a price path; without FromQuantity in the path the
        `fromquantity` parameter, else the article's first price (the lowest FromQuantity)."""
        code = self._price_list_or_404(request.params["price_list"])["Code"]
        number_ = self._article_number_or_404(request.params["article"])
        prices = self._article_prices(code, number_)
        raw = request.params.get("from_quantity") or request.query.get("fromquantity")
        if raw:
            quantity = to_decimal(raw, "FromQuantity")
        elif prices:
            quantity = min(prices)
        else:
            raise ApiError(404, "Kan inte hitta priset.", Code.PRICE_NOT_FOUND)
        if quantity not in prices:
            raise ApiError(404, "Kan inte hitta priset.", Code.PRICE_NOT_FOUND)
        return code, number_, quantity

    def _price_payload(self, request: Request) -> dict[str, Any]:
        data = self._payload(request, "Price", PRICE_WRITABLE, PRICE_READ_ONLY)
        for name in ("Price", "Percent", "FromQuantity"):
            if name in data:
                data[name] = to_decimal(data[name], name)
        return data

    def _post_price(self, request: Request) -> Response:
        data = self._price_payload(request)
        if not str(data.get("PriceList") or "").strip() or not str(data.get("ArticleNumber") or "").strip():
            raise ApiError(400, "Prislista och artikelnummer måste anges.", Code.NO_IDENTIFIER)
        code = self._price_list_or_404(data["PriceList"])["Code"]
        number_ = self._article_number_or_404(str(data["ArticleNumber"]))
        quantity = data.get("FromQuantity", Decimal(0))
        if quantity in self._article_prices(code, number_):
            raise ApiError(
                400, f"Priset för {number_} från {number(quantity)} finns redan i prislistan {code}.", Code.NUMBER_USED
            )
        entry = self._write_price(
            code, number_, quantity, price=data.get("Price", Decimal(0)), percent=data.get("Percent", Decimal(0))
        )
        return Response(status=201, body={"Price": self._price_body(code, number_, quantity, entry)})

    def _get_price(self, request: Request) -> Response:
        code, number_, quantity = self._price_target(request)
        entry = self._article_prices(code, number_)[quantity]
        return Response(body={"Price": self._price_body(code, number_, quantity, entry)})

    def _put_price(self, request: Request) -> Response:
        code, number_, quantity = self._price_target(request)
        data = self._price_payload(request)
        # The key of a price cannot change through PUT (whether Fortnox moves a price to another
        # FromQuantity is undocumented); echoing the key back is accepted.
        if (
            ("PriceList" in data and str(data["PriceList"]).strip().upper() != code)
            or ("ArticleNumber" in data and str(data["ArticleNumber"]) != number_)
            or ("FromQuantity" in data and data["FromQuantity"] != quantity)
        ):
            raise ApiError(400, "Prislista, artikelnummer och från-antal kan inte ändras.", Code.INVALID_VALUE)
        entry = self._write_price(code, number_, quantity, price=data.get("Price"), percent=data.get("Percent"))
        return Response(body={"Price": self._price_body(code, number_, quantity, entry)})

    def _delete_price(self, request: Request) -> Response:
        code, number_, quantity = self._price_target(request)
        if code == DEFAULT_PRICE_LIST and quantity == 0:
            # The base price of the default price list is the article's SalesPrice (a choice:
            # the docs do not say what Fortnox does); change it instead.
            raise ApiError(400, "Grundpriset i standardprislistan kan inte tas bort.", Code.ACTION_NOT_ALLOWED)
        del self.prices[code][number_][quantity]
        return Response(status=204)

    def _article_sublist(self, request: Request) -> Response:
        """GET /3/prices/sublist/{PriceList}/{ArticleNumber}: the article's prices by FromQuantity."""
        code = self._price_list_or_404(request.params["price_list"])["Code"]
        number_ = self._article_number_or_404(request.params["article"])
        prices = sorted(self._article_prices(code, number_).items())
        if request.query.get("fromquantity"):
            wanted = to_decimal(request.query["fromquantity"], "fromquantity")
            prices = [(q, e) for q, e in prices if q == wanted]
        start, limit, meta = self._paging(request.query, len(prices))
        items = [self._price_body(code, number_, q, e) for q, e in prices[start : start + limit]]
        return Response(body={"Prices": items, "MetaInformation": meta})

    def _price_list_sublist(self, request: Request) -> Response:
        """GET /3/prices/sublist/{PriceList}: every price in a list by ArticleNumber, FromQuantity.

        The spec documents the sublist only per article; whether Fortnox also lists a whole
        price list, and filters it by `lastmodified` (the price's Date, "greater than", Swedish
        local time, as for articles), is not confirmed. The simulator offers both, paged as
        other lists; a page costs O(limit + stored prices), also with a generated catalogue.
        """
        code = self._price_list_or_404(request.params["price_list"])["Code"]
        query = request.query
        since = self._parse_lastmodified(query["lastmodified"]) if query.get("lastmodified") else None
        stored = []
        for number_, prices in self.prices.get(code, {}).items():
            key = natural_key(number_)
            for quantity, entry in prices.items():
                if since is None or entry.changed > since:
                    stored.append(((key, quantity), (number_, quantity, entry)))
        stored.sort(key=lambda pair: pair[0])
        # Ranked against generated articles by article number alone (a generated article
        # without stored prices has exactly one: list A from 0).
        ordered = [(sort_key[0], item) for sort_key, item in stored]
        segments = [s for s in self.segments if code == DEFAULT_PRICE_LIST and (since is None or s.modified > since)]
        run = SegmentsRun(segments)
        total = len(ordered) + run.count
        start, limit, meta = self._paging(query, total)

        def make(segment: Segment, index: int) -> tuple[str, Decimal, PriceEntry]:
            return segment.number(index), Decimal(0), self._generated_price(segment, index)

        window = merge_window(ordered, run, start, start + limit, make)
        items = [self._price_body(code, n, q, e) for n, q, e in window]
        return Response(body={"Prices": items, "MetaInformation": meta})
