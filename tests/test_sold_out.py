"""The sold-out mark: set only after the database said stock 0, answers 50103 without the database,
and goes away when stock comes back (cancel, timeout close), so a returned unit sells again."""
import pytest

from db import run_transaction
from store.order_status import close_in_transaction, close_order
from store.sold_out import sold_out_key

from tests.helpers import P, create_order as buy


async def mark_of(services, sku):
    return await services.redis.get(sold_out_key(sku))


async def sold_out_after_one_order(api, services, shop):
    """An SKU of stock 1 bought by a winner, and a late buyer answered 50103 (so it is marked):
    (sku, winner, the winner's order id, late buyer)."""
    sku = await shop.sku(stock=1)
    winner, late = await shop.user(), await shop.user()
    for buyer in (winner, late):
        await shop.put_in_cart(buyer, sku)
    order_id = (await buy(api, winner))[1]["data"]["order_id"]
    assert (await buy(api, late))[1]["code"] == 50103
    assert await mark_of(services, sku) is not None
    return sku, winner, order_id, late


@pytest.mark.gen_test(timeout=60)
async def test_no_mark_while_stock_remains_and_mark_after_the_database_says_zero(api, services, shop):
    sku = await shop.sku(stock=2)
    first, second, third = [await shop.user() for _ in range(3)]
    for buyer in (first, second, third):
        await shop.put_in_cart(buyer, sku)
    assert (await buy(api, first))[1]["code"] == 200
    assert await mark_of(services, sku) is None  # one unit left: nothing to shed
    assert (await buy(api, second))[1]["code"] == 200
    assert await mark_of(services, sku) is None  # selling the last unit does not mark: nobody asked yet
    status, body = await buy(api, third)
    assert (status, body["code"]) == (200, 50103) and f"商品[{sku}]" in body["errmsg"]
    assert await mark_of(services, sku) is not None


@pytest.mark.gen_test(timeout=60)
async def test_too_little_stock_for_a_bigger_count_is_not_sold_out(api, services, shop):
    sku = await shop.sku(stock=2)
    buyer = await shop.user()
    await shop.put_in_cart(buyer, sku, 3)
    assert (await buy(api, buyer))[1]["code"] == 50103
    assert await mark_of(services, sku) is None  # stock 2 is not 0: a buyer of one must still get it
    other = await shop.user()
    await shop.put_in_cart(other, sku, 1)
    assert (await buy(api, other))[1]["code"] == 200


@pytest.mark.gen_test(timeout=60)
async def test_a_marked_sku_is_answered_without_the_database(api, services, shop):
    sku = await shop.sku(stock=0)
    buyer = await shop.user()
    await shop.put_in_cart(buyer, sku)
    assert (await buy(api, buyer))[1]["code"] == 50103
    assert await mark_of(services, sku) is not None
    # the database now says otherwise, but the mark answers first: proof that it did not ask
    await shop.execute("UPDATE sku SET stock = 5 WHERE id=%s", sku)
    status, body = await buy(api, buyer)
    assert (status, body["code"]) == (200, 50103)
    assert (await shop.fetchone("SELECT stock FROM sku WHERE id=%s", sku))["stock"] == 5
    assert (await shop.fetchone("SELECT COUNT(*) AS n FROM order_info"))["n"] == 0
    # and the mark never outlives its TTL (stock edited by hand heals by itself)
    assert 0 < await services.redis.ttl(sold_out_key(sku)) <= 30


@pytest.mark.gen_test(timeout=60)
async def test_a_stale_mark_is_never_set_when_stock_came_back(api, services, shop):
    """mark_sold_out re-reads the stock after setting the mark: stock > 0 takes it away at once."""
    from store.sold_out import mark_sold_out
    sku = await shop.sku(stock=1)
    await mark_sold_out(services, sku)
    assert await mark_of(services, sku) is None


@pytest.mark.gen_test(timeout=60)
async def test_cancel_clears_the_mark_and_the_returned_unit_sells_again(api, services, shop):
    sku, winner, order_id, late = await sold_out_after_one_order(api, services, shop)
    status, body = await api.post(P, json_body={"status": 2, "order_id": order_id}, token=winner["token"])
    assert body["code"] == 200, body
    assert await mark_of(services, sku) is None
    assert (await buy(api, late))[1]["code"] == 200
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 0, "sales": 1}


@pytest.mark.gen_test(timeout=60)
async def test_timeout_close_clears_the_mark(api, services, shop):
    sku, _, order_id, late = await sold_out_after_one_order(api, services, shop)
    closed = await close_order(services, order_id, "timeout")
    assert closed and await mark_of(services, sku) is None
    assert (await buy(api, late))[1]["code"] == 200


@pytest.mark.gen_test(timeout=60)
async def test_a_rolled_back_close_leaves_the_mark(api, services, shop):
    sku, _, order_id, _ = await sold_out_after_one_order(api, services, shop)

    async def close_then_fail(conn):
        await close_in_transaction(conn, services.redis, order_id, "timeout")
        raise RuntimeError("something after the close failed")

    with pytest.raises(RuntimeError):
        await run_transaction(services.pool, close_then_fail)
    assert await mark_of(services, sku) is not None  # no stock came back: the mark stays right
    assert await shop.fetchone("SELECT stock, sales FROM sku WHERE id=%s", sku) == {"stock": 0, "sales": 1}
