"""Look-ups of one event-loop turn made as one query (store/batching.py), and what rests on it: a
flash sale's sold-out answers that carry an idempotency key still find the order an earlier try
with that key made, with one query for many of them. Then the Redis commands of one turn sent as
one pipeline: each caller gets its own answer or error, whoever else shared the round trip."""
import asyncio
import hashlib
import uuid

import pymysql
import pytest
import redis.asyncio
import redis.exceptions
from redis.client import NEVER_DECODE

from store import create_order as create_order_module
from store.batching import Batcher, pipelined
from store.create_order import order_with_key
from tests.helpers import P, buy_now, free_port


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


# ---------------------------------------------------------------- Redis commands of one turn: one pipeline

class PipelineSpy:
    """Wraps a Redis client's pipeline(): remembers how many commands each pipeline carried."""

    def __init__(self, client, monkeypatch):
        self.sizes = []
        real = client.pipeline

        def counted(*args, **kwargs):
            pipe = real(*args, **kwargs)
            real_execute = pipe.execute

            async def execute(*a, **kw):
                self.sizes.append(len(pipe.command_stack))
                return await real_execute(*a, **kw)
            pipe.execute = execute
            return pipe
        monkeypatch.setattr(client, "pipeline", counted)


@pytest.fixture
def redis_client(io_loop, redis_url):
    client = redis.asyncio.Redis.from_url(redis_url, decode_responses=True, socket_timeout=3)
    io_loop.run_sync(client.flushdb)
    yield client
    io_loop.run_sync(client.aclose)


@pytest.mark.gen_test
async def test_the_commands_of_one_turn_are_one_pipeline_and_each_caller_gets_its_own_answer(redis_client,
                                                                                             monkeypatch):
    await redis_client.mset({"a": "1", "b": "2"})
    spy = PipelineSpy(redis_client, monkeypatch)
    commands = pipelined(redis_client)
    answers = await asyncio.gather(commands.execute_command("GET", "a"), commands.execute_command("GET", "b"),
                                   commands.execute_command("MGET", "b", "a", "x", **{NEVER_DECODE: True}),
                                   commands.execute_command("SET", "c", "3"))
    assert answers == ["1", "2", [b"2", b"1", None], True]
    assert spy.sizes == [4] and await redis_client.get("c") == "3"
    # alone in its turn: a plain command, no pipeline
    assert await commands.execute_command("GET", "c") == "3" and spy.sizes == [4]
    assert pipelined(redis_client) is commands  # one per client


@pytest.mark.gen_test
async def test_a_commands_error_reaches_only_its_caller_and_a_lost_server_every_caller(redis_client):
    await redis_client.set("text", "not a hash")
    commands = pipelined(redis_client)
    answers = await asyncio.gather(commands.execute_command("HGET", "text", "field"),
                                   commands.execute_command("GET", "text"), return_exceptions=True)
    assert isinstance(answers[0], redis.exceptions.ResponseError) and "WRONGTYPE" in str(answers[0])
    assert answers[1] == "not a hash"

    gone = redis.asyncio.Redis(port=free_port(), socket_connect_timeout=1, decode_responses=True)  # nothing listens
    answers = await asyncio.gather(*[pipelined(gone).execute_command("GET", k) for k in "abc"],
                                   return_exceptions=True)
    assert [type(a) for a in answers] == [redis.exceptions.ConnectionError] * 3
    await gone.aclose()


@pytest.mark.gen_test
async def test_a_cancelled_caller_cuts_no_other_callers_command_short(redis_client):
    await redis_client.mset({"a": "1", "b": "2"})
    commands = pipelined(redis_client)
    # the leader (first of the turn) cancelled before it sends: the others' commands still go
    leader = asyncio.ensure_future(commands.execute_command("GET", "a"))
    other = asyncio.ensure_future(commands.execute_command("GET", "b"))
    await asyncio.sleep(0)
    leader.cancel()
    assert await other == "2"
    with pytest.raises(asyncio.CancelledError):
        await leader
    # one that joined the batch cancelled: the leader gets its answer
    leader = asyncio.ensure_future(commands.execute_command("GET", "a"))
    joined = asyncio.ensure_future(commands.execute_command("GET", "b"))
    await asyncio.sleep(0)
    joined.cancel()
    assert await leader == "1" and joined.cancelled()
    # the pipeline gone, nothing is left half-read on its connection
    assert await asyncio.gather(*[commands.execute_command("GET", k) for k in "ab"]) == ["1", "2"]


@pytest.mark.gen_test
async def test_a_script_redis_does_not_know_yet_is_sent_whole_then_by_its_sha(redis_client):
    script = f"return {{ARGV[1], redis.call('GET', KEYS[1])}} -- {uuid.uuid4().hex}"  # new to this server
    await redis_client.set("k", "v")
    commands = pipelined(redis_client)
    answers = await asyncio.gather(commands.run_script(script, ["k"], ["x"]), commands.run_script(script, ["k"], ["y"]))
    assert answers == [["x", "v"], ["y", "v"]]
    sha = hashlib.sha1(script.encode()).hexdigest()
    assert await redis_client.script_exists(sha) == [True]
    assert await commands.run_script(script, ["k"], ["z"]) == ["z", "v"]


@pytest.mark.gen_test(timeout=60)
async def test_cached_pages_asked_at_once_each_go_to_their_own_buyer(api, services, shop, monkeypatch):
    """Many buyers' pages in one pipeline: each answer must reach the buyer it belongs to."""
    buyers = [await shop.user() for _ in range(6)]
    sku = await shop.sku(stock=100)
    own = {}
    for buyer in buyers:
        _, body = await buy_now(api, buyer, sku)
        own[buyer["id"]] = body["data"]["order_id"]

    async def listed(buyer):
        _, body = await api.get(P, params={"status": 1, "order_status": 0}, token=buyer["token"])
        return [o["order_id"] for o in body["data"]["orders_list"]]

    for buyer in buyers:  # each page now cached
        assert await listed(buyer) == [own[buyer["id"]]]
    spy = PipelineSpy(services.redis, monkeypatch)
    for _ in range(3):
        pages = await asyncio.gather(*[listed(buyer) for buyer in buyers])
        assert pages == [[own[buyer["id"]]] for buyer in buyers]
    assert spy.sizes and max(spy.sizes) > 1  # served by pipelines of several pages' reads
