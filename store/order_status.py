"""Moving orders through the status machine (store/status.py): each move one conditional UPDATE
in a transaction; the affected-row count says who won, and a lost race is a 50107."""
from db import Q, after_commit, rows, run_transaction
from store.clock import utcnow
from store.errors import BAD_STATUS, ORDER_NOT_FOUND, BusinessError
from store.order_list import orders_changed_after_commit
from store.sold_out import clear_sold_out
from store.status import AWAITING_PAYMENT


async def get_order(services, order_id):
    """Any order by id (for Alipay's callbacks and the merchant), or None."""
    async with services.pool.acquire() as conn:
        return await Q.get_order(conn, order_id=order_id)


async def get_own_order(services, user_id, order_id):
    """The caller's own order, or 50106 — the same answer whether it exists for someone else or not."""
    async with services.pool.acquire() as conn:
        order = await Q.get_own_order(conn, order_id=order_id, user_id=user_id)
    if order is None:
        raise BusinessError(ORDER_NOT_FOUND, "订单不存在")
    return order


async def explain_lost_transition(services, user_id, order_id, action):
    """After a conditional UPDATE changed nothing: 50106 if not the caller's, else 50107."""
    order = await get_own_order(services, user_id, order_id)
    raise BusinessError(BAD_STATUS, f"订单当前状态({order['status']})不能{action}")


async def confirm_receipt(services, user_id, order_id):
    """GET status=2: 3 -> 4, the buyer's own order only."""
    async def work(conn):
        changed = await Q.mark_received(conn, order_id=order_id, user_id=user_id, now=utcnow())
        if changed == 1:
            orders_changed_after_commit(conn, services.redis, user_id)
        return changed

    if await run_transaction(services.pool, work) != 1:
        await explain_lost_transition(services, user_id, order_id, "确认收货")


async def close_in_transaction(conn, redis, order_id, reason) -> bool:
    """1 -> 5 and the stock back, inside the caller's transaction. False if the order was not awaiting payment."""
    if await Q.mark_closed(conn, order_id=order_id, reason=reason, now=utcnow()) != 1:
        return False
    owner = await Q.get_order_owner(conn, order_id=order_id)
    lines = await rows(Q.get_order_lines(conn, order_id=order_id))  # ascending SKU id, as create locks
    for line in lines:  # stock before holds, in the order create takes them
        await Q.return_stock(conn, sku_id=line["sku_id"], count=line["count"])
    for line in lines:
        await Q.release_hold(conn, user_id=owner, sku_id=line["sku_id"], count=line["count"])
    # once committed, the units can be bought again: no sold-out mark may turn buyers away
    returned = [line["sku_id"] for line in lines]
    after_commit(conn, lambda: clear_sold_out(redis, returned))
    orders_changed_after_commit(conn, redis, owner)
    return True


async def close_order(services, order_id, reason) -> bool:
    """Close an order awaiting payment, stock returned, in a transaction of its own."""
    async def work(conn):
        return await close_in_transaction(conn, services.redis, order_id, reason)

    return await run_transaction(services.pool, work)


async def cancel(services, user_id, order_id):
    """POST status=2: the buyer cancels an unpaid order; stock comes back in the same transaction."""
    await get_own_order(services, user_id, order_id)
    if not await close_order(services, order_id, "cancel"):
        await explain_lost_transition(services, user_id, order_id, "取消")


async def order_to_pay(services, user_id, order_id):
    """POST status=1: the caller's own order, awaiting payment and not past its deadline."""
    order = await get_own_order(services, user_id, order_id)
    if order["status"] != AWAITING_PAYMENT:
        raise BusinessError(BAD_STATUS, "订单不是待付款状态")
    if order["pay_deadline"] <= utcnow():
        raise BusinessError(BAD_STATUS, "订单已超过支付期限")
    return order


async def ship(services, order_id, carrier, tracking_no):
    """The merchant ships: 2 -> 3, with the carrier and tracking number the buyer then sees.
    50106 for an unknown order, 50107 when it is not awaiting shipment."""
    async def work(conn):
        changed = await Q.mark_shipped(conn, order_id=order_id, now=utcnow(), carrier=carrier,
                                       tracking_no=tracking_no)
        if changed == 1:
            orders_changed_after_commit(conn, services.redis, await Q.get_order_owner(conn, order_id=order_id))
        return changed

    if await run_transaction(services.pool, work) == 1:
        return
    order = await get_order(services, order_id)
    if order is None:
        raise BusinessError(ORDER_NOT_FOUND, "订单不存在")
    raise BusinessError(BAD_STATUS, f"订单当前状态({order['status']})不能发货")


async def order_awaiting_payment(services, order_id):
    """The order if it can still be paid (status 1, before its deadline), else None."""
    order = await get_order(services, order_id)
    if order is None or order["status"] != AWAITING_PAYMENT or order["pay_deadline"] <= utcnow():
        return None
    return order


async def mark_pay_started(services, order_id):
    """Remember that the buyer went to the cashier: reconciliation asks Alipay about these orders."""
    async def work(conn):
        await Q.mark_pay_started(conn, order_id=order_id, now=utcnow())

    await run_transaction(services.pool, work)
