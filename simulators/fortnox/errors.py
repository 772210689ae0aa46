"""Fortnox error answers: the ErrorInformation codes and the exceptions handlers raise for them."""

from __future__ import annotations


class Code:
    """ErrorInformation codes."""

    SYSTEM_EXCEPTION = 1000003
    NOT_NUMERIC = 2000108
    NOT_BOOLEAN = 2000134
    CUSTOMER_NOT_FOUND = 2000204  # customer referenced from a document
    INVALID_LOGIN = 2000310
    LOGIN_MISSING = 2000311
    ARTICLE_NOT_FOUND = 2000428  # GET /3/articles/{n}
    CUSTOMER_NOT_FOUND_404 = 2000433  # GET/PUT /3/customers/{n}
    INVALID_PARAMETER = 2000588
    CUSTOMER_NUMBER_USED = 2000637
    NO_SCOPE_ACCESS = 2000663
    ARTICLE_NOT_FOUND_ON_ROW = 2001302
    ACCOUNT_NOT_FOUND = 2001304
    EMPTY_BODY = 2001392
    INVALID_FIELD = 2001399
    JSON_SYNTAX = 2002115
    # Fortnox publishes no codes for the cases below; these placeholders (29990xx)
    # keep them distinguishable. Clients should branch on the published codes only.
    NAME_REQUIRED = 2999001
    DESCRIPTION_REQUIRED = 2999002
    VAT_NOT_FOUND = 2999003
    CURRENCY_NOT_FOUND = 2999004
    INVALID_VALUE = 2999005
    NUMBER_USED = 2999006
    INVOICE_NOT_FOUND = 2999007
    DOCUMENT_LOCKED = 2999008
    ACTION_NOT_ALLOWED = 2999009
    RATE_LIMITED = 2999010  # the body of a real 429 is undocumented
    NOT_FOUND = 2999011  # no such endpoint
    PRICE_LIST_NOT_FOUND = 2999012
    PRICE_NOT_FOUND = 2999013
    NO_IDENTIFIER = 2000729  # no valid identifier given (a price without PriceList or ArticleNumber)


class ApiError(Exception):
    """A Fortnox error answer (status, Swedish message, ErrorInformation code)."""

    def __init__(self, status: int, message: str, code: int) -> None:
        super().__init__(f"{status} [{code}] {message}")
        self.status, self.message, self.code = status, message, code


class WarehouseError(Exception):
    """An error answer of the warehouse module (`/api/warehouse/...`): a WebException body."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(f"{status} {error}: {message}")
        self.status, self.error, self.message = status, error, message
