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
NO_ADDRESS = 50100
NOTHING_TO_SETTLE = 50101
BAD_ADDRESS = 50102
OUT_OF_STOCK = 50103
IN_PROGRESS = 50104
NOT_PAID = 50105
ORDER_NOT_FOUND = 50106
BAD_STATUS = 50107
ILLEGAL_CALLBACK = 50108
BAD_PARAMS = 50109


def bad_params(errmsg):
    """A malformed request: HTTP 400 with code 50109."""
    return BusinessError(BAD_PARAMS, errmsg, http_status=400)
