"""Articles: /3/articles[/{ArticleNumber}] (GET list/one, POST, PUT), stored or from a
generated catalogue (`simulators.fortnox.catalogue`) materialised when changed."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any

from simulators.base import Request, Response
from simulators.fortnox.api import FortnoxApi
from simulators.fortnox.catalogue import RefListRun, Segment, SegmentsRun, merge_window, window_positions
from simulators.fortnox.errors import ApiError, Code
from simulators.fortnox.prices import DEFAULT_PRICE_LIST, PriceEntry
from simulators.fortnox.values import as_text, natural_key, number, to_decimal
from simulators.fortnox.warehouse import DEFAULT_STOCK_POINT

ARTICLE_WRITABLE = frozenset(
    {
        "Active",
        "ArticleNumber",
        "Bulky",
        "ConstructionAccount",
        "CostCalculationMethod",
        "DefaultStockLocation",
        "DefaultStockPoint",
        "Depth",
        "Description",
        "DirectCost",
        "EAN",
        "EUAccount",
        "EUVATAccount",
        "Expired",
        "ExportAccount",
        "FreightCost",
        "Height",
        "Housework",
        "HouseworkType",
        "Manufacturer",
        "ManufacturerArticleNumber",
        "Note",
        "OtherCost",
        "PurchaseAccount",
        "PurchasePrice",
        "QuantityInStock",
        "ReservedQuantity",
        "SalesAccount",
        "SalesPrice",
        "StockAccount",
        "StockChangeAccount",
        "StockGoods",
        "StockPlace",
        "StockValue",
        "StockWarning",
        "SupplierName",
        "SupplierNumber",
        "Type",
        "Unit",
        "VAT",
        "WebshopArticle",
        "Weight",
        "Width",
    }
)
# The spec lists DisposableQuantity as writable, but it is derived (in stock − reserved); writes are ignored.
ARTICLE_READ_ONLY = frozenset({"@url", "CommodityCode", "DisposableQuantity"})

# List items give these article fields as strings (a documented quirk of the list schema).
ARTICLE_LIST_TEXT_FIELDS = (
    "DisposableQuantity",
    "PurchasePrice",
    "ReservedQuantity",
    "SalesPrice",
    "StockValue",
    "VAT",
)

ARTICLE_SEARCH = {
    "articlenumber": "ArticleNumber",
    "description": "Description",
    "ean": "EAN",
    "suppliernumber": "SupplierNumber",
    "manufacturer": "Manufacturer",
    "manufacturerarticlenumber": "ManufacturerArticleNumber",
}
ARTICLE_SORT = {
    "articlenumber": "ArticleNumber",
    "quantityinstock": "QuantityInStock",
    "reservedquantity": "ReservedQuantity",
    "stockvalue": "StockValue",
}


class ArticleResource(FortnoxApi):
    """Stored and generated articles; list A at FromQuantity 0 is an article's SalesPrice."""

    def add_article(
        self,
        article_number: str,
        description: str,
        *,
        sales_price: Any = 0,
        vat: int = 25,
        quantity_in_stock: Any = 0,
        **fields: Any,
    ) -> dict[str, Any]:
        """Create an article as POST /3/articles would; returns the stored record."""
        with self.lock:
            return self._create_article(
                {
                    "ArticleNumber": article_number,
                    "Description": description,
                    "SalesPrice": sales_price,
                    "VAT": vat,
                    "QuantityInStock": quantity_in_stock,
                    **fields,
                }
            )

    def seed_articles(self, articles: Iterable[dict[str, Any]]) -> None:
        """Create (or update) articles given with Fortnox field names."""
        with self.lock:
            for article in articles:
                number_ = str(article.get("ArticleNumber", ""))
                if self._find_article(number_) is not None:
                    self._update_article(self._article_for_write(number_), article)
                else:
                    self._create_article(dict(article))

    def deactivate_article(self, article_number: str) -> dict[str, Any]:
        """Active false, as a PUT would set it."""
        with self.lock:
            article = self._article_for_write(str(article_number))
            self._update_article(article, {"Active": False})
            return article

    def seed_generated(
        self, count: int, *, prefix: str = "G", start: int = 1, stock_point: str = DEFAULT_STOCK_POINT, seed: int = 1
    ) -> dict[str, Any]:
        """Add `count` generated articles prefix + zero-padded number (start, start + 1, ...).

        Nothing is stored: article i is computed from i and `seed` when read. They all share
        one modification time (now); an article changed later (PUT, set_stock, a price of
        list A, deactivate_article) is materialised into `articles` and its changes are
        tracked as for any other article. Catalogues may not overlap in article-number order;
        an already stored article with a number in the range wins over the generated one.
        """
        with self.lock:
            segment = Segment(
                prefix=prefix, start=start, count=int(count), seed=seed, stock_point=stock_point, modified=self.clock()
            )
            first, last = segment.number(0), segment.number(segment.count - 1)
            # Keys are computed without parsing; make sure they agree with the list order.
            if segment.key(0) != natural_key(first) or segment.key(segment.count - 1) != natural_key(last):
                raise ValueError(f"prefix {prefix!r} does not give ordered article numbers")
            for other in self.segments:
                if not (segment.key(segment.count - 1) < other.key(0) or other.key(other.count - 1) < segment.key(0)):
                    raise ValueError(
                        f"{first}..{last} overlaps the generated {other.number(0)}..{other.number(other.count - 1)}"
                    )
            for number_ in self.articles:
                index = segment.index_of(number_)
                if index is not None:
                    segment.exclude(index)
            if stock_point not in self.stock_points:
                self._add_stock_point(stock_point, stock_point)
            self.segments.append(segment)
            return {
                "prefix": prefix,
                "first": first,
                "last": last,
                "count": segment.count,
                "modified": segment.modified.isoformat(sep=" "),
            }

    def _article_body(self, article: dict[str, Any]) -> dict[str, Any]:
        return {"@url": self._url(f"/3/articles/{article['ArticleNumber']}"), **article}

    def _generated_ref(self, number_: str) -> tuple[Segment, int] | None:
        """The (segment, index) of a generated article that is not materialised."""
        for segment in self.segments:
            index = segment.index_of(number_)
            if index is not None:
                return None if index in segment.excluded_set else (segment, index)
        return None

    def _find_article(self, number_: str) -> dict[str, Any] | None:
        """A stored article, or a generated one computed for reading (not stored)."""
        article = self.articles.get(number_)
        if article is not None:
            return article
        ref = self._generated_ref(number_)
        return ref[0].article(ref[1]) if ref else None

    def _article_number_or_404(self, number_: str) -> str:
        if number_ not in self.articles and self._generated_ref(number_) is None:
            raise ApiError(404, "Kan inte hitta artikeln.", Code.ARTICLE_NOT_FOUND)
        return number_

    def _article_for_write(self, number_: str) -> dict[str, Any]:
        """The stored article, materialising a generated one first; 404 if there is none."""
        article = self.articles.get(number_)
        if article is not None:
            return article
        ref = self._generated_ref(number_)
        if ref is None:
            raise ApiError(404, "Kan inte hitta artikeln.", Code.ARTICLE_NOT_FOUND)
        return self._materialise(*ref)

    def _materialise(self, segment: Segment, index: int) -> dict[str, Any]:
        """Store generated article `index` as it reads now (its time stays the seeding moment)."""
        article = segment.article(index)
        number_ = article["ArticleNumber"]
        in_stock, reserved = segment.stock(index)
        self.articles[number_] = article
        self.stock[number_] = {segment.stock_point: (Decimal(in_stock), Decimal(reserved))}
        self.prices[DEFAULT_PRICE_LIST][number_] = {
            Decimal(0): PriceEntry(to_decimal(article["SalesPrice"]), Decimal(0), segment.modified)
        }
        self.modified_at[("articles", number_)] = segment.modified
        segment.exclude(index)
        return article

    def _article_list_item(self, article: dict[str, Any]) -> dict[str, Any]:
        item = self._article_body(article)
        for name in ARTICLE_LIST_TEXT_FIELDS:
            item[name] = as_text(item.get(name))
        return item

    def _list_articles(self, request: Request) -> Response:
        """`_list` over stored and generated articles.

        Sorted by article number (the default) a page costs O(limit + stored articles): the
        generated part is never enumerated. Search parameters scan the generated articles
        and another sortby sorts them all: correct, but O(generated).
        """
        query = request.query
        state = query.get("filter", "")
        if state and state not in ("active", "inactive"):
            raise ApiError(400, f"Ogiltig parameter i anropet. (filter={state})", Code.INVALID_PARAMETER)
        webshop = query["webshop"].lower() == "true" if query.get("webshop") else None
        since = self._parse_lastmodified(query["lastmodified"]) if query.get("lastmodified") else None
        searches = [
            (field_name, query[param].lower()) for param, field_name in ARTICLE_SEARCH.items() if param in query
        ]
        sort_by = query.get("sortby", "")
        if sort_by and sort_by not in ARTICLE_SORT:
            raise ApiError(400, f"Ogiltig parameter i anropet. (sortby={sort_by})", Code.INVALID_PARAMETER)
        sort_field = ARTICLE_SORT.get(sort_by, "ArticleNumber")
        descending = query.get("sortorder", "ascending") == "descending"

        def matches(article: dict[str, Any]) -> bool:
            return all(needle in as_text(article.get(name)).lower() for name, needle in searches)

        stored = [
            a
            for a in self.articles.values()
            if (not state or a["Active"] == (state == "active"))
            and (webshop is None or a["WebshopArticle"] == webshop)
            and (since is None or self.modified_at.get(("articles", a["ArticleNumber"]), datetime.min) > since)
            and matches(a)
        ]
        # Generated articles are active webshop articles changed at their segment's seeding moment.
        segments = [
            s
            for s in self.segments
            if state in ("", "active") and webshop in (None, True) and (since is None or s.modified > since)
        ]

        def make(segment: Segment, index: int) -> dict[str, Any]:
            return segment.article(index)

        if sort_field == "ArticleNumber":
            if searches:
                refs = []
                for segment in sorted(segments, key=lambda s: s.key(0)):
                    for index in segment.remaining_from(0):
                        if all(needle in segment.text(index, name).lower() for name, needle in searches):
                            refs.append((segment, index))
                run: SegmentsRun | RefListRun = RefListRun(refs)
            else:
                run = SegmentsRun(segments)
            ordered = sorted(((natural_key(a["ArticleNumber"]), a) for a in stored), key=lambda pair: pair[0])
            total = len(ordered) + run.count
            start, limit, meta = self._paging(query, total)
            low, high = window_positions(total, start, limit, descending)
            page = merge_window(ordered, run, low, high, make)
            if descending:
                page.reverse()
        else:
            everything: list[tuple[Any, Any]] = [(natural_key(a.get(sort_field)), a) for a in stored]
            for segment in sorted(segments, key=lambda s: s.key(0)):
                for index in segment.remaining_from(0):
                    article = segment.article(index)
                    if matches(article):
                        everything.append((natural_key(article.get(sort_field)), article))
            everything.sort(key=lambda pair: pair[0], reverse=descending)
            start, limit, meta = self._paging(query, len(everything))
            page = [article for _, article in everything[start : start + limit]]
        return Response(body={"Articles": [self._article_list_item(a) for a in page], "MetaInformation": meta})

    def _post_article(self, request: Request) -> Response:
        data = self._payload(request, "Article", ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        return Response(status=201, body={"Article": self._article_body(self._create_article(data))})

    def _get_article(self, request: Request) -> Response:
        article = self._find_article(request.params["number"])
        if article is None:
            raise ApiError(404, "Kan inte hitta artikeln.", Code.ARTICLE_NOT_FOUND)
        return Response(body={"Article": self._article_body(article)})

    def _put_article(self, request: Request) -> Response:
        self._article_number_or_404(request.params["number"])
        data = self._payload(request, "Article", ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        article = self._article_for_write(request.params["number"])
        self._update_article(article, data)
        return Response(body={"Article": self._article_body(article)})

    def _create_article(self, data: dict[str, Any]) -> dict[str, Any]:
        data = self._fields(dict(data), ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        number_ = str(data.get("ArticleNumber") or "").strip()
        if number_ and self._find_article(number_) is not None:
            raise ApiError(400, f"Artikelnummer {number_} används redan.", Code.NUMBER_USED)
        if not str(data.get("Description") or "").strip():
            raise ApiError(400, "Benämning måste anges.", Code.DESCRIPTION_REQUIRED)
        number_ = number_ or self._next_number([*self.articles, *(s.number(s.count - 1) for s in self.segments)])
        article: dict[str, Any] = {
            "Active": True,
            "ArticleNumber": number_,
            "Bulky": False,
            "DefaultStockPoint": "",
            "Depth": 0,
            "Description": "",
            "DisposableQuantity": 0,
            "EAN": "",
            "Expired": False,
            "Height": 0,
            "Housework": False,
            "Manufacturer": "",
            "ManufacturerArticleNumber": "",
            "Note": "",
            "PurchasePrice": 0,
            "QuantityInStock": 0,
            "ReservedQuantity": 0,
            "SalesAccount": None,
            "SalesPrice": 0,
            "StockGoods": False,
            "StockPlace": "",
            "StockValue": 0,
            "StockWarning": 0,
            "SupplierName": "",
            "SupplierNumber": "",
            "Type": "STOCK",
            "Unit": "st",
            "VAT": 25,
            "WebshopArticle": False,
            "Weight": 0,
            "Width": 0,
        }
        self._update_article(article, {k: v for k, v in data.items() if k != "ArticleNumber"})
        self.articles[number_] = article
        # Every article has a price in the default price list: its SalesPrice.
        if Decimal(0) not in self.prices[DEFAULT_PRICE_LIST].get(number_, {}):
            self._write_price(
                DEFAULT_PRICE_LIST, number_, Decimal(0), price=to_decimal(article["SalesPrice"]), article=article
            )
        return article

    def _update_article(self, article: dict[str, Any], data: dict[str, Any]) -> None:
        data = self._fields(dict(data), ARTICLE_WRITABLE, ARTICLE_READ_ONLY)
        number_ = article["ArticleNumber"]
        if "ArticleNumber" in data and str(data.pop("ArticleNumber")) != number_:
            raise ApiError(400, "Artikelnumret kan inte ändras.", Code.INVALID_VALUE)
        if "Description" in data and not str(data["Description"] or "").strip():
            raise ApiError(400, "Benämning måste anges.", Code.DESCRIPTION_REQUIRED)
        if "VAT" in data:
            data["VAT"] = self._check_vat(data["VAT"])
        for name in ("SalesAccount", "PurchaseAccount", "EUAccount", "EUVATAccount", "ExportAccount"):
            if name in data:
                data[name] = self._check_account(data[name])
        for name in (
            "SalesPrice",
            "PurchasePrice",
            "QuantityInStock",
            "ReservedQuantity",
            "StockValue",
            "StockWarning",
        ):
            if name in data:
                data[name] = number(to_decimal(data[name], name))
        if "Type" in data and data["Type"] not in ("STOCK", "SERVICE"):
            raise ApiError(400, f"Ogiltig artikeltyp ({data['Type']})", Code.INVALID_VALUE)
        if data.get("DefaultStockPoint") and data["DefaultStockPoint"] not in self.stock_points:
            raise ApiError(400, f"Kunde inte hitta lagerställe ({data['DefaultStockPoint']})", Code.INVALID_VALUE)
        price_changed = "SalesPrice" in data and (
            data["SalesPrice"] != article.get("SalesPrice")
            or Decimal(0) not in self.prices[DEFAULT_PRICE_LIST].get(number_, {})
        )
        article.update(data)
        if "QuantityInStock" in data or "ReservedQuantity" in data:
            # A write of the article's quantities lands on its default stock point; the
            # other stock points keep their balances.
            point = article.get("DefaultStockPoint") or DEFAULT_STOCK_POINT
            rows = self.stock.setdefault(number_, {})
            in_stock, reserved = rows.get(point, (Decimal(0), Decimal(0)))
            others = [balance for code, balance in rows.items() if code != point]
            if "QuantityInStock" in data:
                in_stock = to_decimal(data["QuantityInStock"]) - sum((b[0] for b in others), Decimal(0))
            if "ReservedQuantity" in data:
                reserved = to_decimal(data["ReservedQuantity"]) - sum((b[1] for b in others), Decimal(0))
            rows[point] = (in_stock, reserved)
        if self.stock.get(number_):
            self._sync_stock(article)
        else:
            article["DisposableQuantity"] = number(
                to_decimal(article["QuantityInStock"]) - to_decimal(article["ReservedQuantity"])
            )
        if price_changed:
            self._write_price(
                DEFAULT_PRICE_LIST, number_, Decimal(0), price=to_decimal(article["SalesPrice"]), article=article
            )
        self._touch("articles", number_)
