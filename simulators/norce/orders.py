"""Realistic webshop orders for the Norce simulator (and demo data for the ERP side).

`generate_order()` builds one *internal order*: a plain dict in the vocabulary of
Norce's OrderRequest (PascalCase keys, enum values as names, amounts as floats with
at most two decimals). The Norce simulator stores it, adds its own bookkeeping
(Id, StatusId, Created, ...) and renders it both as the OrderRequest it pushes and
as the Query 2.0 order it serves.

Money rules, as a Swedish webshop prices things:
- shelf prices are whole kronor *including* VAT;
- per item, ``UnitPrice`` (ex VAT, after discount) is the gross price divided by
  (1 + VAT rate) rounded to öre, and ``UnitVat`` is the remainder, so
  ``UnitPrice + UnitVat`` is exactly the gross price;
- the payment amount is the sum of gross price × quantity over all lines.

`DEMO_CATALOGUE` is plain data so that the Fortnox simulator can seed the same
articles: ``part_no``, ``name``, ``vat_rate`` (percent) and ``price_incl_vat`` (SEK).
"""

from __future__ import annotations

import random
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypedDict

from simulators.numbers import luhn_digit


class CatalogueArticle(TypedDict):
    part_no: str
    name: str
    vat_rate: int  # percent: 25, 12 (food) or 6 (books)
    price_incl_vat: int  # whole kronor


def _article(part_no: str, name: str, vat_rate: int, price_incl_vat: int) -> CatalogueArticle:
    return {"part_no": part_no, "name": name, "vat_rate": vat_rate, "price_incl_vat": price_incl_vat}


DEMO_CATALOGUE: list[CatalogueArticle] = [
    # Kläder och accessoarer (25 %)
    _article("TS-1001-S", "T-shirt ekologisk bomull, svart, S", 25, 249),
    _article("TS-1001-M", "T-shirt ekologisk bomull, svart, M", 25, 249),
    _article("TS-1001-L", "T-shirt ekologisk bomull, svart, L", 25, 249),
    _article("TS-1002-M", "T-shirt ekologisk bomull, vit, M", 25, 249),
    _article("HD-2001-M", "Hoodie college, gråmelerad, M", 25, 599),
    _article("HD-2001-L", "Hoodie college, gråmelerad, L", 25, 599),
    _article("JK-3001-M", "Vindjacka Fjällvind, marinblå, M", 25, 1299),
    _article("JK-3001-L", "Vindjacka Fjällvind, marinblå, L", 25, 1299),
    _article("SK-4001-3942", "Ullsockor 2-pack, stl 39–42", 25, 149),
    _article("SK-4001-4346", "Ullsockor 2-pack, stl 43–46", 25, 149),
    _article("MS-4101", "Mössa ribbstickad ull, senapsgul", 25, 229),
    _article("VA-4201-M", "Lovikkavantar, natur, M", 25, 349),
    # Hem och kök (25 %)
    _article("KO-5001", "Kaffekopp stengods 30 cl, blå", 25, 129),
    _article("KO-5002", "Tallrik stengods 27 cm, sand", 25, 159),
    _article("HB-5101", "Handduk frotté 50x70, salvia", 25, 119),
    _article("HB-5102", "Badlakan frotté 70x140, salvia", 25, 299),
    _article("LJ-5201", "Blockljus stearin 4-pack, vit", 25, 89),
    _article("KR-5301", "Skärbräda ek 40x25 cm", 25, 449),
    _article("PL-5401", "Pläd ull 130x180, rutig", 25, 899),
    _article("VS-5501", "Vas munblåst glas, rökfärgad", 25, 549),
    _article("KN-5601", "Kockkniv 20 cm, rostfritt stål", 25, 795),
    _article("FR-5701", "Fotoram ek 21x30", 25, 199),
    _article("DM-5801", "Dörrmatta kokos 40x60", 25, 249),
    # Friluftsliv och elektronik (25 %)
    _article("RY-6001", "Ryggsäck 25 l, återvunnen polyester, oliv", 25, 899),
    _article("TF-6101", "Termos rostfri 0,75 l", 25, 349),
    _article("LA-6201", "Pannlampa uppladdningsbar 400 lm", 25, 499),
    _article("PB-6301", "Powerbank 10 000 mAh", 25, 399),
    _article("KB-6401", "USB-C-kabel 2 m, flätad", 25, 149),
    _article("HF-6501", "Hörlurar trådlösa in-ear", 25, 1195),
    _article("VF-6601", "Vattenflaska 0,6 l, BPA-fri", 25, 179),
    # Livsmedel (12 %)
    _article("KF-7001", "Kaffe mellanrost 450 g, hela bönor", 12, 119),
    _article("KF-7002", "Kaffe mörkrost 450 g, bryggmalet", 12, 109),
    _article("TL-7101", "Te Earl Grey 100 g, löst", 12, 79),
    _article("CH-7201", "Mörk choklad 70 % 100 g", 12, 39),
    _article("HO-7301", "Honung från Gotland 500 g", 12, 129),
    _article("BR-7401", "Knäckebröd råg 520 g", 12, 35),
    _article("SY-7501", "Lingonsylt 400 g", 12, 49),
    # Böcker (6 %)
    _article("BK-8001", "Kokbok: Vardagsmat från Norrland", 6, 329),
    _article("BK-8002", "Fältguide: Nordens fåglar", 6, 299),
    _article("BK-8003", "Bilderbok: Igelkotten som inte ville sova", 6, 149),
    _article("BK-8004", "Roman: Sommaren vid sjön (pocket)", 6, 99),
    _article("BK-8005", "Handbok: Odla på balkongen", 6, 249),
]

FREIGHT_PART_NO = "FRAKT"

# Delivery methods: code → (gross freight in SEK incl. 25 % VAT, description, weight).
DELIVERY_METHODS: dict[str, tuple[int, str, int]] = {
    "POSTNORD": (49, "Frakt PostNord ombud", 50),
    "DHL": (59, "Frakt DHL Service Point", 15),
    "BUDBEE": (69, "Frakt Budbee hemleverans", 20),
    "INSTABOX": (39, "Frakt Instabox", 15),
}
FREIGHT_VAT_RATE = 25

# Payment methods: code → (PaymentCode = the tenant's payment method id, display name, weight).
# The ids are tenant specific in Norce; these are the ones our simulated tenant uses.
PAYMENT_METHODS: dict[str, tuple[int, str, int]] = {
    "KLARNA": (12, "Klarna", 50),
    "ADYEN": (14, "Kort (Adyen)", 25),
    "SWISH": (15, "Swish", 25),
}

COMPANY_SHARE = 0.25
FREE_FREIGHT_SHARE = 0.15
DISCOUNT_SHARE = 0.2

FIRST_NAMES = [
    "Anna",
    "Eva",
    "Maria",
    "Karin",
    "Sara",
    "Lena",
    "Emma",
    "Kerstin",
    "Ingrid",
    "Elin",
    "Johanna",
    "Linnéa",
    "Maja",
    "Ebba",
    "Klara",
    "Astrid",
    "Saga",
    "Agnes",
    "Erik",
    "Lars",
    "Karl",
    "Anders",
    "Johan",
    "Per",
    "Nils",
    "Mikael",
    "Lennart",
    "Oskar",
    "Gustav",
    "Axel",
    "Viktor",
    "Olle",
    "Björn",
    "Måns",
    "Jonas",
    "Fredrik",
    "Emil",
    "Hugo",
    "Ali",
    "Amir",
    "Noor",
    "Sofia",
]
LAST_NAMES = [
    "Andersson",
    "Johansson",
    "Karlsson",
    "Nilsson",
    "Eriksson",
    "Larsson",
    "Olsson",
    "Persson",
    "Svensson",
    "Gustafsson",
    "Pettersson",
    "Jonsson",
    "Jansson",
    "Hansson",
    "Bengtsson",
    "Jönsson",
    "Lindberg",
    "Jakobsson",
    "Magnusson",
    "Lindström",
    "Olofsson",
    "Lindqvist",
    "Lindgren",
    "Berg",
    "Axelsson",
    "Bergström",
    "Lundberg",
    "Lundqvist",
    "Åberg",
    "Öberg",
    "Sjöberg",
    "Holm",
    "Ekström",
    "Nyström",
    "Wallin",
    "Sandberg",
    "Hassan",
]
STREETS = [
    "Storgatan",
    "Drottninggatan",
    "Kungsgatan",
    "Vasagatan",
    "Skolgatan",
    "Järnvägsgatan",
    "Parkvägen",
    "Björkvägen",
    "Ekvägen",
    "Tallvägen",
    "Södra vägen",
    "Linnégatan",
    "Sveavägen",
    "Götgatan",
    "Hornsgatan",
    "Kyrkogatan",
    "Nygatan",
    "Fabriksgatan",
    "Industrivägen",
    "Bangårdsgatan",
    "Åsgatan",
    "Östra Långgatan",
    "Västra Hamngatan",
    "Ringvägen",
    "Solrosvägen",
    "Lärkvägen",
]
# City → postal code prefixes (first three digits) that really belong to it.
CITIES: dict[str, list[int]] = {
    "Stockholm": [111, 112, 113, 114, 115, 116, 117, 118],
    "Göteborg": [411, 412, 413, 414, 415, 416, 417],
    "Malmö": [211, 212, 213, 214, 215, 216, 217],
    "Uppsala": [752, 753, 754, 756, 757],
    "Linköping": [582, 583, 584, 585, 586],
    "Örebro": [702, 703],
    "Västerås": [721, 722, 723, 724, 725],
    "Helsingborg": [252, 253, 254, 256],
    "Norrköping": [602, 603],
    "Jönköping": [553, 554, 555, 556],
    "Umeå": [903, 904, 906, 907],
    "Lund": [222, 223, 224, 226, 227],
    "Borås": [503, 504, 506, 507],
    "Sundsvall": [852, 853, 854, 856],
    "Gävle": [802, 803, 804, 805, 806],
    "Luleå": [972, 973, 974, 975],
    "Karlstad": [652, 653, 654, 655, 656],
    "Växjö": [352, 353, 354, 355],
    "Visby": [621, 622],
    "Kiruna": [981],
}
COMPANY_TRADES = [
    "Bygg",
    "Måleri",
    "Redovisning",
    "Fastigheter",
    "Konsult",
    "El & Tele",
    "Trädgård",
    "Design",
    "Café",
    "Kontorsservice",
    "Städ",
    "Arkitekter",
]
EMAIL_DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com"]
DELIVERY_COMMENTS = [
    "Lämna paketet hos grannen om ingen är hemma.",
    "Portkod 1234.",
    "Ring innan leverans.",
    "Paketet är en present.",
]
DISCOUNT_CODES = ["VAR20", "NYHET10", "MEDLEM15", "KAMPANJ"]
UNKNOWN_ARTICLE_NAMES = ["Presentkort i ask", "Tygkasse med tryck", "Kampanjpaket höst", "Provförpackning te"]

ORE = Decimal("0.01")


def split_gross(gross: Decimal | int, vat_rate: Decimal | int) -> tuple[Decimal, Decimal]:
    """Split a gross unit price into (price ex VAT, VAT), both in öre, summing to `gross` exactly."""
    gross = Decimal(gross)
    net = (gross / (1 + Decimal(vat_rate) / 100)).quantize(ORE, rounding=ROUND_HALF_UP)
    return net, gross - net


def _money(value: Decimal) -> float:
    return float(value.quantize(ORE))


def _ascii(text: str) -> str:
    table = str.maketrans({"å": "a", "ä": "a", "ö": "o", "é": "e", "ü": "u", " ": "", "&": ""})
    return text.lower().translate(table)


def _organisation_number(rng: random.Random) -> str:
    """A Swedish aktiebolag number: 556xxx-xxxx or 559xxx-xxxx with a valid check digit."""
    body = rng.choice(["556", "559"]) + "".join(str(rng.randint(0, 9)) for _ in range(6))
    digits = body + luhn_digit(body)
    return f"{digits[:6]}-{digits[6:]}"


def _phone(rng: random.Random) -> str:
    # 070-174 06 05 … 070-174 06 99 is the range Swedish regulators reserve for fiction.
    number = rng.randint(605, 699)
    return f"+46701740{number}" if rng.random() < 0.8 else f"070-174 0{str(number)[0]} {str(number)[1:]}"


def _address(rng: random.Random, *, company: bool = False) -> dict[str, Any]:
    city = rng.choice(list(CITIES))
    zip_code = f"{rng.choice(CITIES[city])}{rng.randint(0, 9)}{rng.randint(0, 9)}"
    if rng.random() < 0.3:  # people type postal codes both ways
        zip_code = f"{zip_code[:3]} {zip_code[3:]}"
    number = str(rng.randint(1, 120)) + (rng.choice("AB") if rng.random() < 0.1 else "")
    line2 = None
    if not company and rng.random() < 0.2:
        line2 = f"Lgh {rng.randint(10, 19)}{rng.randint(1, 9):02d}"
    return {
        "Line1": f"{rng.choice(STREETS)} {number}",
        "Line2": line2,
        "Box": None,
        "ZipCode": zip_code,
        "City": city,
        "Region": None,
        "Country": "SE",
        "CareOf": None,
        "ShippingPhoneNumber": None,
    }


def _person(rng: random.Random, address: dict[str, Any], *, company: dict[str, Any] | None) -> dict[str, Any]:
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if company:
        email = f"{_ascii(first)}.{_ascii(last)}@{company['_domain']}"
    else:
        suffix = str(rng.randint(1, 99)) if rng.random() < 0.3 else ""
        email = f"{_ascii(first)}.{_ascii(last)}{suffix}@{rng.choice(EMAIL_DOMAINS)}"
    return {
        "CustomerCode": None,  # guest checkout
        "CompanyCode": company["Code"] if company else None,
        "FirstName": first,
        "LastName": last,
        "JobTitle": rng.choice(["Inköpare", "VD", "Kontorschef", None]) if company else None,
        "PrivatePhone": None,
        "CellPhone": _phone(rng),
        "WorkPhone": None,
        "Email": email,
        "SSN": None,
        "Address": address,
        "AdditionalInfo": [],
        "IsActive": None,
    }


def _company(rng: random.Random) -> dict[str, Any]:
    last, trade = rng.choice(LAST_NAMES), rng.choice(COMPANY_TRADES)
    name = f"{last}s {trade} AB"
    org_no = _organisation_number(rng)
    digits = org_no.replace("-", "")
    # VAT numbers are SE + organisation number + 01; checkout forms get both spellings.
    vat_no = f"SE{digits}01" if rng.random() < 0.7 else f"SE{digits} 01"
    return {
        "Code": f"C{rng.randint(10000, 99999)}",
        "Name": name,
        "VatNo": vat_no,
        "Phone": None,
        "Email": None,
        # OrderRequest's Company has no organisation number property (only Code, Name,
        # VatNo, ...); we carry it as AdditionalInfo, which is where tenants put extras.
        "AdditionalInfo": [{"Id": None, "Code": "OrganizationNo", "Code2": "OrganizationNo", "Value": org_no}],
        "_domain": f"{_ascii(last + trade)}.example.com",
    }


def _pick(rng: random.Random, table: dict[str, tuple[Any, Any, int]]) -> str:
    codes = list(table)
    return rng.choices(codes, weights=[table[c][2] for c in codes])[0]


def _item(
    line_no: int,
    *,
    part_no: str,
    description: str,
    vat_rate: int,
    gross: int,
    original_gross: int,
    quantity: int,
    type_: str = "ErpStandard",
    type_group: str = "Physical",
    erp_part_no: str | None = None,
) -> dict[str, Any]:
    unit_price, unit_vat = split_gross(gross, vat_rate)
    original, _ = split_gross(original_gross, vat_rate)
    return {
        "LineNo": line_no,
        "ParentLineNo": None,
        "Type": type_,
        "TypeGroup": type_group,
        "PartNo": part_no,
        "ErpPartNo": erp_part_no,
        "Description": description,
        "Quantity": quantity,
        "Quantity2": float(quantity),
        "UnitPrice": _money(unit_price),
        "UnitPriceOriginal": _money(original),
        # Per unit and ex VAT, so that UnitPriceOriginal − UnitPrice = Discount. The
        # contracts do not say whether Discount is per unit or per row.
        "Discount": _money(original - unit_price),
        "UnitVat": _money(unit_vat),
        "VatRate": vat_rate,
        "PriceListNo": 1 if type_group != "Fee" else None,
        "AdditionalInfo": [],
    }


def _payment_ref(rng: random.Random, method: str) -> str:
    if method == "KLARNA":  # Klarna order ids are UUIDs
        h = f"{rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{h[16:20]}-{h[20:]}"
    if method == "ADYEN":  # 16-character PSP reference
        return "".join(rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ0123456789") for _ in range(16))
    return f"{rng.getrandbits(128):032X}"  # Swish payment reference


def order_gross_total(order: dict[str, Any]) -> Decimal:
    """Σ (UnitPrice + UnitVat) × Quantity over the order's items, in öre."""
    total = Decimal(0)
    for item in order.get("Items", []):
        unit = Decimal(str(item["UnitPrice"])) + Decimal(str(item["UnitVat"]))
        total += unit * int(item["Quantity"])
    return total.quantize(ORE)


def generate_order(
    rng: random.Random,
    *,
    order_ref: str,
    catalogue: list[CatalogueArticle] | list[dict[str, Any]],
    unknown_article_rate: float = 0.0,
    missing_data_rate: float = 0.0,
) -> dict[str, Any]:
    """One realistic webshop order (internal model, see module docstring). Deterministic for a seeded `rng`.

    ``_defects`` lists what was deliberately broken: ``unknown_article``,
    ``missing_buyer_identity`` or ``missing_vat_rate``.
    """
    if not catalogue:
        raise ValueError("catalogue is empty")
    defects: list[str] = []
    company = _company(rng) if rng.random() < COMPANY_SHARE else None
    invoice_address = _address(rng, company=company is not None)
    buyer = _person(rng, invoice_address, company=company)
    bill_person = dict(buyer, Address=dict(invoice_address))
    if rng.random() < 0.15:  # delivered somewhere else (a summer house, the office, a friend)
        ship_person = dict(buyer, Address=_address(rng))
    else:
        ship_person = dict(buyer, Address=dict(invoice_address))

    # -- product lines
    count = min(rng.randint(1, 5), len(catalogue))
    articles = rng.sample(list(catalogue), count)
    items: list[dict[str, Any]] = []
    discounted = False
    for line_no, article in enumerate(articles, start=1):
        original = int(article["price_incl_vat"])
        gross = original
        if rng.random() < DISCOUNT_SHARE:
            percent = rng.choice([10, 15, 20, 25, 30])
            gross = int((Decimal(original) * (100 - percent) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
            discounted = discounted or gross < original
        items.append(
            _item(
                line_no,
                part_no=article["part_no"],
                erp_part_no=article["part_no"],
                description=article["name"],
                vat_rate=int(article["vat_rate"]),
                gross=gross,
                original_gross=original,
                quantity=rng.randint(1, 3),
            )
        )

    if rng.random() < unknown_article_rate:
        known = {a["part_no"] for a in catalogue}
        part_no = f"ZZ-{rng.randint(9000, 9999)}"
        while part_no in known:
            part_no = f"ZZ-{rng.randint(9000, 9999)}"
        price = rng.choice([99, 149, 199, 299])
        target = rng.randrange(len(items))
        items[target] = _item(
            target + 1,
            part_no=part_no,
            erp_part_no=part_no,
            description=rng.choice(UNKNOWN_ARTICLE_NAMES),
            vat_rate=25,
            gross=price,
            original_gross=price,
            quantity=items[target]["Quantity"],
        )
        defects.append("unknown_article")

    # -- freight
    delivery = _pick(rng, DELIVERY_METHODS)
    freight_gross, freight_text, _ = DELIVERY_METHODS[delivery]
    if rng.random() >= FREE_FREIGHT_SHARE:
        items.append(
            _item(
                len(items) + 1,
                part_no=FREIGHT_PART_NO,
                description=freight_text,
                vat_rate=FREIGHT_VAT_RATE,
                gross=freight_gross,
                original_gross=freight_gross,
                quantity=1,
                type_="Freight",
                type_group="Fee",
            )
        )

    # -- payment (before any data defect, so the amount is what the customer paid)
    order: dict[str, Any] = {"Items": items}
    method = _pick(rng, PAYMENT_METHODS) if company is None else rng.choice(["KLARNA", "KLARNA", "ADYEN"])
    payment_code, payment_name, _ = PAYMENT_METHODS[method]
    payments = [
        {
            "PaymentCode": payment_code,
            "PaymentMethodCode": method,
            "PaymentRef": _payment_ref(rng, method),
            "Amount": _money(order_gross_total(order)),
            "CurrencyCode": "SEK",
            "PaymentName": payment_name,
            "AdditionalInfo": [],
        }
    ]

    if rng.random() < missing_data_rate:
        if rng.random() < 0.5:
            # The buyer (SellTo and BillTo) lacks a name and an email; ShipTo keeps the consignee.
            for person in (buyer, bill_person):
                person.update(FirstName=None, LastName=None, Email=None)
            defects.append("missing_buyer_identity")
        else:
            product_lines = [i for i in items if i["TypeGroup"] != "Fee"]
            del rng.choice(product_lines)["VatRate"]
            defects.append("missing_vat_rate")

    company_public = {k: v for k, v in company.items() if not k.startswith("_")} if company else None
    return {
        "ClientOrderRef": order_ref,
        "ErpOrderNo": None,
        "CustomerOrderRef": f"Inköpsorder {rng.randint(1000, 9999)}" if company and rng.random() < 0.6 else "",
        "CustomerOrderComment": rng.choice(DELIVERY_COMMENTS) if rng.random() < 0.1 else "",
        "CurrencyCode": "SEK",
        "OrderType": "Order",
        "Source": "WEB",
        "DoHold": False,
        "DiscountCode": rng.choice(DISCOUNT_CODES) if discounted else None,
        "SellTo": {"Company": company_public, "Person": buyer},
        "BillTo": {"Company": company_public, "Person": bill_person},
        "ShipTo": {"Company": company_public, "Person": ship_person},
        "Payments": payments,
        "ShippingAdvice": {
            "DeliveryMethodCode": delivery,
            "DoSMSNotify": rng.random() < 0.5,
            "PickupStore": None,
            "IsFeeChargedOnce": False,
            "IsComplete": False,
        },
        "Items": items,
        "_defects": defects,
    }
