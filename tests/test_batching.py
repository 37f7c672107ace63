"""Look-ups of one event-loop turn made as one query (store/batching.py), and what rests on it: a
flash sale's sold-out answers that carry an idempotency key still find the order an earlier try
with that key made, with one query for many of them."""
import asyncio

import pymysql
import pytest

from store import create_order as create_order_module
from store.batching import Batcher
from store.create_order import order_with_key
from tests.helpers import P


class CountingFetch:
    """fetch_many over a dict, remembering the batches it was asked for."""

    def __init__(self, known, error=None):
        self.known, self.error, self.batches = known, error, []

    async def __call__(self, keys):
        self.batches.append(sorted(keys))
        await asyncio.sleep(0.01)
        if self.error:
            raise self.error
        return {k: self.known[k] for k in keys if k in self.known}


@pytest.mark.gen_test
async def test_the_lookups_of_one_turn_are_one_batch_and_each_caller_gets_its_own_answer():
    fetch = CountingFetch({"a": 1, "b": 2})
    batcher = Batcher(fetch)
    answers = await asyncio.gather(batcher.get("a"), batcher.get("b"), batcher.get("a"), batcher.get("x"))
    assert answers == [1, 2, 1, None]
    assert fetch.batches == [["a", "b", "x"]]
    # a later turn is a batch of its own
    assert await batcher.get("b") == 2 and fetch.batches[1:] == [["b"]]


@pytest.mark.gen_test
async def test_a_batch_in_flight_does_not_hold_up_the_next():
    fetch = CountingFetch({"a": 1, "b": 2})
    batcher = Batcher(fetch)
    first = asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0)  # the first batch is sent; the next turn's look-up goes at once too
    second = asyncio.ensure_future(batcher.get("b"))
    await asyncio.sleep(0.002)
    assert fetch.batches == [["a"], ["b"]] and not first.done()
    assert (await first, await second) == (1, 2)


@pytest.mark.gen_test
async def test_an_error_reaches_every_caller_of_the_batch_and_a_cancelled_caller_harms_none():
    failing = Batcher(CountingFetch({}, error=pymysql.err.OperationalError(2013, "Lost connection")))
    results = await asyncio.gather(failing.get("a"), failing.get("b"), return_exceptions=True)
    assert [type(r) for r in results] == [pymysql.err.OperationalError] * 2

    batcher = Batcher(CountingFetch({"a": 1}))
    leaving, staying = asyncio.ensure_future(batcher.get("a")), asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == 1 and leaving.cancelled()


@pytest.mark.gen_test
async def test_order_with_key_finds_each_buyers_order_in_one_query(api, services, shop, monkeypatch):
    buyers = [await shop.user() for _ in range(3)]
    sku = await shop.sku(stock=10)
    made = {}
    for n, buyer in enumerate(buyers):
        _, body = await api.post(P, json_body={"status": 0, "settlement_type": 1, "sku_id": sku, "buy_num": 1,
                                               "address_id": buyer["address_id"]},
                                 token=buyer["token"], headers={"Idempotency-Key": f"Visit-{n}"})
        made[buyer["id"]] = body["data"]["order_id"]
    queries = []
    real = create_order_module.orders_with_keys

    async def counted(pool, pairs):
        queries.append(pairs)
        return await real(pool, pairs)

    monkeypatch.setattr(create_order_module, "orders_with_keys", counted)
    services.batchers.clear()
    asks = [(b["id"], f"Visit-{n}") for n, b in enumerate(buyers)]
    asks += [(buyers[0]["id"], "visit-0"),  # keys compare as the column does: ignoring case
             (buyers[1]["id"], "Visit-0"),  # another buyer's key is not theirs
             (buyers[2]["id"], "never-used")]
    found = await asyncio.gather(*[order_with_key(services, user_id, key) for user_id, key in asks])
    ids = [order and order["order_id"] for order in found]
    assert ids == [made[b["id"]] for b in buyers] + [made[buyers[0]["id"]], None, None]
    assert len(queries) == 1 and len(queries[0]) == 5  # one query; the two spellings of one key asked once
    assert found[0] is not found[3]  # each caller its own copy


@pytest.mark.gen_test(timeout=60)
async def test_a_keyed_retry_after_the_sell_out_gets_its_order_not_sold_out(api, shop):
    """The last unit is bought, the answer lost; the SKU is then marked sold out. The buyer's retry
    with the same key must be answered with the order; a new key of another buyer with sold out."""
    winner, late = await shop.user(), await shop.user()
    sku = await shop.sku(stock=1)

    async def buy(user, key):
        return await api.post(P, json_body={"status": 0, "settlement_type": 1, "sku_id": sku, "buy_num": 1,
                                            "address_id": user["address_id"]},
                              token=user["token"], headers={"Idempotency-Key": key})

    _, first = await buy(winner, "last-unit")
    _, refused = await buy(late, "too-late")  # the database refuses and the mark is set
    assert refused["code"] == 50103
    _, marked = await buy(late, "too-late-again")  # answered from the mark now
    assert marked["code"] == 50103
    answers = await asyncio.gather(*[buy(winner, "last-unit") for _ in range(5)],
                                   *[buy(late, f"late-{n}") for n in range(5)])
    assert [body["data"]["order_id"] for _, body in answers[:5]] == [first["data"]["order_id"]] * 5
    assert [body["code"] for _, body in answers[5:]] == [50103] * 5
    assert (await shop.fetchone("SELECT COUNT(*) AS n FROM order_info"))["n"] == 1
