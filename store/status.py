"""The order status machine (contract, "Order status"): the statuses and the moves between them.

Every move is one conditional UPDATE in sql/orders.sql (`... WHERE status = <from>`); the numbers
there are these.
"""
AWAITING_PAYMENT, AWAITING_SHIPMENT, AWAITING_RECEIPT, COMPLETED, CLOSED = 1, 2, 3, 4, 5

NAMES = {AWAITING_PAYMENT: "待付款", AWAITING_SHIPMENT: "待发货", AWAITING_RECEIPT: "待收货",
         COMPLETED: "已完成", CLOSED: "已关闭"}

# the only allowed moves: pay, close (cancel or timeout), ship, confirm receipt
TRANSITIONS = {
    "pay": (AWAITING_PAYMENT, AWAITING_SHIPMENT),
    "close": (AWAITING_PAYMENT, CLOSED),
    "ship": (AWAITING_SHIPMENT, AWAITING_RECEIPT),
    "receive": (AWAITING_RECEIPT, COMPLETED),
}


def can(move: str, status: int) -> bool:
    """Whether an order in `status` may make `move`."""
    return TRANSITIONS[move][0] == status


def is_paid(status: int) -> bool:
    """Paid and not closed: awaiting shipment, awaiting receipt or completed."""
    return AWAITING_SHIPMENT <= status <= COMPLETED
