"""Business outcomes as exceptions: the handler layer turns them into the JSON envelope."""


class BusinessError(Exception):
    """A business outcome (code 501xx and friends), answered with HTTP 200 unless said otherwise."""

    def __init__(self, code, errmsg, *, http_status=200, data=None):
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg
        self.http_status = http_status
        self.data = data


# The contract's business codes.
LOGIN_REQUIRED = 403  # body code of "please log in" (HTTP 401) and of "not yours" (HTTP 403)
NO_ADDRESS = 50100
NOTHING_TO_SETTLE = 50101
UNKNOWN_SKU = NOTHING_TO_SETTLE  # the contract answers an unknown or off-shelf SKU with the settle code
BAD_ADDRESS = 50102
OUT_OF_STOCK = 50103
IN_PROGRESS = 50104
NOT_PAID = 50105
ORDER_NOT_FOUND = 50106
BAD_STATUS = 50107
ILLEGAL_CALLBACK = 50108
BAD_PARAMS = 50109
LIMIT_REACHED = 50112
NOT_ON_SALE = 50113

# The user module's codes (the original store's, kept for its pages).
USERNAME_TAKEN = 10101
BAD_LOGIN = 10102


class OutOfStock(BusinessError):
    """The database could not deduct `sku_id` (too little stock, or a sold-out mark said so)."""

    def __init__(self, sku_id):
        super().__init__(OUT_OF_STOCK, f"商品[{sku_id}]库存不足")
        self.sku_id = sku_id


def bad_params(errmsg):
    """A malformed request: HTTP 400 with code 50109."""
    return BusinessError(BAD_PARAMS, errmsg, http_status=400)


def login_required(errmsg="请登录"):
    """No valid token: HTTP 401 with the contract's body code 403."""
    return BusinessError(LOGIN_REQUIRED, errmsg, http_status=401)


class PurchaseLimitReached(BusinessError):
    """The buyer would hold more of a flash-sale SKU than its per-buyer limit."""

    def __init__(self, sku_id, limit):
        super().__init__(LIMIT_REACHED, f"商品[{sku_id}]每人限购{limit}件")
        self.sku_id = sku_id


class NotOnSale(BusinessError):
    """The SKU's sale window is not open: `opens` / `closed` are Shanghai times as text."""

    def __init__(self, sku_id, *, opens=None, closed=None):
        errmsg = f"商品[{sku_id}]将于{opens}开售" if opens else f"商品[{sku_id}]的抢购已于{closed}结束"
        super().__init__(NOT_ON_SALE, errmsg)
        self.sku_id = sku_id


# ---- abuse resistance (issue 12)
RATE_LIMITED = 50110  # HTTP 429 with Retry-After
TOO_LARGE = BAD_PARAMS  # HTTP 413: the contract answers a body over the limit with 50109


class TooManyRequests(BusinessError):
    """Over a rate limit or a concurrency bound: HTTP 429, code 50110, `Retry-After: retry_after`."""

    def __init__(self, errmsg, retry_after):
        super().__init__(RATE_LIMITED, errmsg, http_status=429)
        self.retry_after = max(1, int(retry_after))
