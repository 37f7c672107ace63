"""Money is Decimal end to end and leaves the service as a 2-place string."""
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def money(value) -> str:
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP))
