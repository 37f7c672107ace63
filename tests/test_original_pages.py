"""What the original dadashop pages (jQuery, served from an origin of their own) rely on: CORS, order
ids of the seed's shape, buy-now without sku_id on create, `error`, the login's `data.len` and cart
merge, the cart module's codes, the original catalog endpoints, absolute image URLs, the return URL.
The pages themselves are not in this repository (docs/original-pages.md says how to serve them)."""
import asyncio
import dataclasses
import json
import os
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from tornado.httpclient import HTTPRequest

import demo
from handlers.urls import return_url
from store.clock import SHANGHAI
from store.create_order import new_order_id, order_id_at
from tests.helpers import PASSWORD, P, buy_now, create_order

ROOT = Path(__file__).resolve().parents[1]
PAGES = "http://pages.example:9000"      # where the original pages are served in these tests
FOREIGN = "http://evil.example"
ORDER_ID_SHAPE = re.compile(r"\d{16}")


def allow_origins(services, *origins, **more):
    services.config = dataclasses.replace(services.config, cors_origins=tuple(origins), **more)


async def fetch(api, method, path, *, headers=None, body=None):
    """The raw response (headers included) of one request to the app under test."""
    if method in ("POST", "PUT") and body is None:
        body = ""
    request = HTTPRequest(api.base_url + path, method=method, headers=headers or {}, body=body,
                          follow_redirects=False, allow_nonstandard_methods=True)
    return await api.client.fetch(request, raise_error=False)


def body_of(response) -> dict:
    return json.loads(response.body)


async def log_in(api, username, **extra):
    return await api.post("/v1/tokens", json_body={"username": username, "password": PASSWORD, **extra})


# ---- CORS ------------------------------------------------------------------------------------

@pytest.mark.gen_test
async def test_preflights_from_an_allowed_origin_grant_what_the_pages_send(api, services, shop):
    allow_origins(services, PAGES)
    user = await shop.user()
    routes = {"/v1/tokens": "POST", f"/v1/carts/{user['username']}": "PUT", P: "POST",
              f"/v1/users/{user['username']}/address": "POST", "/v1/goods/sku": "POST",
              "/v1/goods/index": "GET", "/v1/goods/detail/1": "GET", "/v1/goods/skus": "GET"}
    for path, method in routes.items():
        response = await fetch(api, "OPTIONS", path, headers={
            "Origin": PAGES, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
        headers = response.headers
        assert response.code == 204, path
        assert headers["Access-Control-Allow-Origin"] == PAGES, path
        assert method in headers["Access-Control-Allow-Methods"].split(", "), path
        granted = {h.strip().lower() for h in headers["Access-Control-Allow-Headers"].split(",")}
        assert {"authorization", "content-type", "idempotency-key"} <= granted, path
        assert int(headers["Access-Control-Max-Age"]) > 0
    cart = await fetch(api, "OPTIONS", f"/v1/carts/{user['username']}",
                       headers={"Origin": PAGES, "Access-Control-Request-Method": "DELETE"})
    assert cart.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, DELETE"

    # the real requests: readable by the page, X-Request-Id exposed, error answers included
    for path, token in ((f"/v1/carts/{user['username']}", user["token"]), (P + "?status=1", None)):
        headers = {"Origin": PAGES, "authorization": token} if token else {"Origin": PAGES}
        response = await fetch(api, "GET", path, headers=headers)
        assert response.headers["Access-Control-Allow-Origin"] == PAGES
        assert "X-Request-Id" in response.headers["Access-Control-Expose-Headers"]
        assert "Origin" in response.headers["Vary"]
    assert response.code == 401 and body_of(response)["error"] == "请登录"


@pytest.mark.gen_test
async def test_a_foreign_origin_gets_no_grant_and_same_origin_is_the_default(api, services, shop):
    user = await shop.user()
    for origins in ((PAGES,), ()):
        allow_origins(services, *origins)
        preflight = await fetch(api, "OPTIONS", P, headers={"Origin": FOREIGN,
                                                            "Access-Control-Request-Method": "POST"})
        assert preflight.code == 204 and "Access-Control-Allow-Origin" not in preflight.headers
        assert "Access-Control-Allow-Methods" not in preflight.headers
        response = await fetch(api, "GET", f"/v1/carts/{user['username']}",
                               headers={"Origin": FOREIGN, "authorization": user["token"]})
        assert response.code == 200 and "Access-Control-Allow-Origin" not in response.headers
    # by default not even the pages' origin: CORS is opt-in
    response = await fetch(api, "GET", "/v1/goods/index", headers={"Origin": PAGES})
    assert "Access-Control-Allow-Origin" not in response.headers
    # "*" (development): any origin
    allow_origins(services, "*")
    response = await fetch(api, "GET", "/v1/goods/index", headers={"Origin": FOREIGN})
    assert response.headers["Access-Control-Allow-Origin"] == FOREIGN


@pytest.mark.gen_test
async def test_the_alipay_notify_never_gets_cors(api, services):
    allow_origins(services, "*")
    preflight = await fetch(api, "OPTIONS", "/v1/orders/success/",
                            headers={"Origin": PAGES, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    assert "Access-Control-Allow-Methods" not in preflight.headers
    notify = await fetch(api, "POST", "/v1/orders/success/", body="out_trade_no=1&sign=x",
                         headers={"Origin": PAGES, "Content-Type": "application/x-www-form-urlencoded"})
    assert notify.body == b"fail" and "Access-Control-Allow-Origin" not in notify.headers


def test_cors_origins_and_return_url_come_from_the_environment():
    import config as config_module
    loaded = config_module.load(environ={"DADASHOP_CORS_ORIGINS": " http://a.example:9000/ , https://b.example ",
                                         "DADASHOP_RETURN_URL": "http://a.example:9000/pay_success.html"},
                                env_file="/nonexistent")
    assert loaded.cors_origins == ("http://a.example:9000", "https://b.example")
    assert loaded.return_url == "http://a.example:9000/pay_success.html"
    default = config_module.load(environ={}, env_file="/nonexistent")
    assert default.cors_origins == () and default.return_url == ""


# ---- order ids -------------------------------------------------------------------------------

@pytest.mark.gen_test
async def test_order_ids_are_16_digits_of_the_current_minute(api, services, shop):
    user = await shop.user()
    sku = await shop.sku(stock=50)
    await shop.put_in_cart(user, sku, 2)
    before = datetime.now(SHANGHAI)
    answers = [await create_order(api, user), await buy_now(api, user, sku, 1), await buy_now(api, user, sku, 3)]
    after = datetime.now(SHANGHAI)
    ids = [body["data"]["order_id"] for _, body in answers]
    assert all(ORDER_ID_SHAPE.fullmatch(i) and int(i) < 2 ** 53 for i in ids), ids
    assert {i[:10] for i in ids} <= {before.strftime("%y%m%d%H%M"), after.strftime("%y%m%d%H%M")}
    stored = await shop.fetchall("SELECT order_id FROM order_info WHERE user_id=%s", user["id"])
    assert sorted(r["order_id"] for r in stored) == sorted(ids)
    # the pay link (Alipay's out_trade_no) carries the same id
    assert all(f"/v1/orders/{i}/alipay" in body["data"]["pay_url"] for i, (_, body) in zip(ids, answers))


DRAW_IN_ANOTHER_PROCESS = """
import asyncio, dataclasses, json, sys
import config, db, server
from store.create_order import new_order_id

async def main(mysql_url, redis_url, count):
    conf = dataclasses.replace(config.load(environ={}, env_file="/nonexistent"), mysql_url=mysql_url,
                               redis_url=redis_url, mysql_pool_size=20)
    services = await server.open_services(conf)
    try:
        ids = await asyncio.gather(*[new_order_id(services) for _ in range(count)])
    finally:
        await server.close_services(services)
    print(json.dumps(ids))

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


@pytest.mark.gen_test(timeout=240)
async def test_ten_thousand_ids_drawn_at_once_in_two_processes_are_unique(services):
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", DRAW_IN_ANOTHER_PROCESS, services.config.mysql_url, services.config.redis_url, "5000",
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    here = await asyncio.gather(*[new_order_id(services) for _ in range(5000)])
    out, err = await other.communicate()
    assert other.returncode == 0, err.decode()[-2000:]
    there = json.loads(out)
    assert len(here) == len(there) == 5000
    every = here + there
    assert len(set(every)) == 10_000
    assert all(ORDER_ID_SHAPE.fullmatch(i) and int(i) < 2 ** 53 for i in every)


@pytest.mark.gen_test
async def test_a_repeated_number_is_refused_by_the_unique_key_and_drawn_again(api, services, shop):
    """The sequence never repeats a number; should an id repeat anyway (here: the sequence is moved
    back by hand), the UNIQUE key refuses it and create draws another, instead of merging orders."""
    user = await shop.user()
    sku = await shop.sku(stock=10)
    _, first = await buy_now(api, user, sku, 1)
    first_id = first["data"]["order_id"]
    await shop.execute(f"ALTER SEQUENCE order_number RESTART WITH {int(first_id[10:])}")
    _, second = await buy_now(api, user, sku, 1)
    assert second["code"] == 200 and second["data"]["order_id"] != first_id
    assert ORDER_ID_SHAPE.fullmatch(second["data"]["order_id"])
    counted = await shop.fetchall("SELECT order_id, total_count FROM order_info WHERE user_id=%s", user["id"])
    assert len(counted) == 2 and {r["total_count"] for r in counted} == {1}


@pytest.mark.gen_test
async def test_orders_with_ids_of_the_earlier_shape_keep_working(api, services, shop):
    user = await shop.user()
    sku = await shop.sku(stock=10, price="5.00")
    _, body = await buy_now(api, user, sku, 1)
    old = "20261130101010000007a1b2c3d4e5"  # 30 characters: time, buyer, hex tail
    async with shop.pool.acquire() as conn:  # rename the order as if made before the 16-digit ids
        async with conn.cursor() as cur:
            await cur.execute("SET FOREIGN_KEY_CHECKS=0")
            for table in ("order_goods", "order_info"):
                await cur.execute(f"UPDATE {table} SET order_id=%s WHERE order_id=%s", (old, body["data"]["order_id"]))
            await cur.execute("SET FOREIGN_KEY_CHECKS=1")
    _, paid = await api.post(P, json_body={"status": 1, "order_id": old}, token=user["token"])
    assert paid["code"] == 200 and paid["data"]["order_id"] == old and f"/v1/orders/{old}/alipay" in \
        paid["data"]["pay_url"]
    pay_link = await fetch(api, "GET", paid["data"]["pay_url"].replace(services.config.base_url, ""))
    assert pay_link.code == 302
    await shop.execute("UPDATE order_info SET status=3 WHERE order_id=%s", old)
    _, received = await api.get(P, params={"status": 2, "order_id": old}, token=user["token"])
    assert received["code"] == 200
    assert (await shop.fetchone("SELECT status FROM order_info WHERE order_id=%s", old))["status"] == 4


def test_the_order_id_layout_holds_until_2089():
    assert order_id_at(datetime(2019, 11, 18, 11, 50), 4601) == "1911181150004601"
    assert int(order_id_at(datetime(2089, 12, 31, 23, 59), 999_999)) < 2 ** 53


@pytest.mark.browser
@pytest.mark.gen_test(timeout=120)
async def test_chromium_holds_every_order_id_exactly(api, services, shop):
    """The original my-orders page writes onclick="confirm(' + order_id + ')": the id must come back
    from a JavaScript number as the same digits."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed")
    from tests.e2e.conftest import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        pytest.skip("Chromium and chromedriver are needed")
    user = await shop.user()
    sku = await shop.sku(stock=100)
    made = [(await buy_now(api, user, sku, 1))[1]["data"]["order_id"] for _ in range(20)]
    ids = made + await asyncio.gather(*[new_order_id(services) for _ in range(500)])
    ids += [order_id_at(datetime(2089, 12, 31, 23, 59), 999_999),
            order_id_at(datetime.now() + timedelta(days=1), 10 ** 12 - 1)]
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    driver = await asyncio.get_running_loop().run_in_executor(
        None, lambda: webdriver.Chrome(service=Service(CHROMEDRIVER), options=options))
    try:
        script = """
            var ids = arguments[0], bad = [];
            ids.forEach(function (id) {
              // as the page does it: the id, unquoted, in a piece of JavaScript
              var clicked = new Function('return (function confirm(x) { return x; })(' + id + ');')();
              if (Number(id).toString() !== id || String(clicked) !== id) { bad.push(id); }
            });
            return bad;"""
        bad = await asyncio.get_running_loop().run_in_executor(None, lambda: driver.execute_script(script, ids))
    finally:
        await asyncio.get_running_loop().run_in_executor(None, driver.quit)
    assert bad == [] and len(ids) == 522


# ---- buy-now as the original pages do it -----------------------------------------------------

@pytest.mark.gen_test
async def test_buy_now_create_without_sku_orders_what_was_confirmed_and_never_the_cart(api, services, shop):
    user = await shop.user()
    wanted, in_cart = await shop.sku(stock=10, price="20.00"), await shop.sku(stock=10, price="3.00")
    await shop.put_in_cart(user, in_cart, 4)
    # nothing confirmed yet: 50101, and the cart is not ordered instead
    _, nothing = await create_order(api, user, settlement_type=1)
    assert nothing["code"] == 50101 and nothing["error"] == nothing["errmsg"]
    assert await shop.fetchall("SELECT id FROM order_info WHERE user_id=%s", user["id"]) == []

    # orderConfirm.html?sku_id=..&buy_num=.. confirms, payment.html creates with address and type only
    _, confirmed = await api.get(P, params={"status": 0, "settlement_type": 1, "sku_id": wanted, "buy_num": 2},
                                 token=user["token"])
    assert confirmed["code"] == 200 and confirmed["data"]["total_amount"] == "40.00"
    _, created = await create_order(api, user, settlement_type=1)
    assert created["code"] == 200 and created["data"]["total_amount"] == "50.00"
    order_id = created["data"]["order_id"]
    lines = await shop.fetchall("SELECT sku_id, count FROM order_goods WHERE order_id=%s", order_id)
    assert [(r["sku_id"], r["count"]) for r in lines] == [(wanted, 2)]
    assert json.loads(await services.redis.hget(f"cart_{user['id']}", str(in_cart)))["count"] == 4

    # the payment page creates on every load: the same confirmation is one order
    _, again = await create_order(api, user, settlement_type=1)
    assert again["data"]["order_id"] == order_id
    stock = await shop.fetchone("SELECT stock FROM sku WHERE id=%s", wanted)
    assert stock["stock"] == 8

    # a reload of the confirm page without the item shows what is remembered
    _, reloaded = await api.get(P, params={"status": 0, "settlement_type": 1}, token=user["token"])
    assert [(i["id"], i["count"]) for i in reloaded["data"]["sku_list"]] == [(wanted, 2)]

    # explicit fields win
    _, explicit = await buy_now(api, user, in_cart, 1)
    lines = await shop.fetchall("SELECT sku_id, count FROM order_goods WHERE order_id=%s",
                                explicit["data"]["order_id"])
    assert [(r["sku_id"], r["count"]) for r in lines] == [(in_cart, 1)]

    # a new confirmation is a new order
    await api.get(P, params={"status": 0, "settlement_type": 1, "sku_id": wanted, "buy_num": 1}, token=user["token"])
    _, next_one = await create_order(api, user, settlement_type=1)
    assert next_one["data"]["order_id"] not in (order_id, explicit["data"]["order_id"])
    assert next_one["data"]["total_amount"] == "30.00"

    # remembered for the payment window, per buyer
    assert 0 < await services.redis.ttl(f"buy_now:{user['id']}") <= services.config.order_timeout
    other = await shop.user()
    _, theirs = await create_order(api, other, settlement_type=1)
    assert theirs["code"] == 50101


# ---- the other modules' conventions ----------------------------------------------------------

@pytest.mark.gen_test
async def test_error_answers_carry_error_as_well_as_errmsg(api, shop):
    user = await shop.user()
    answers = [await api.get(P, params={"status": 0, "settlement_type": 0}, token=user["token"]),  # 50101
               await api.post(P, body="{not json", token=user["token"]),                          # 400
               await api.get(P, params={"status": 1}),                                            # 401
               await api.get("/v1/nowhere"),                                                      # 404
               await api.post("/v1/tokens", json_body={"username": user["username"], "password": "wrong!"})]
    assert [status for status, _ in answers] == [200, 400, 401, 404, 200]
    for _, body in answers:
        assert body["code"] != 200 and body["error"] == body["errmsg"] and body["error"]
    assert answers[-1][1]["code"] == 10102


@pytest.mark.gen_test
async def test_login_answers_the_cart_count_and_merges_the_offline_cart(api, services, shop):
    user = await shop.user()
    a, b, c = await shop.sku(stock=10), await shop.sku(stock=2), await shop.sku(stock=10)
    off, sold_out = await shop.sku(launched=False), await shop.sku(stock=0)
    await shop.put_in_cart(user, a, 5, selected=0)
    await shop.put_in_cart(user, c, 1)
    _, plain = await log_in(api, user["username"])
    assert plain["code"] == 200 and plain["data"]["len"] == 2 and plain["data"]["token"]

    # the page's localStorage `cart`: ids and counts as strings, some entries stale or broken
    offline = [{"id": str(a), "count": "3", "name": "x", "selected": True},   # less than held: 5 stays
               {"id": str(b), "count": "7", "price": 1},                    # capped by stock
               {"id": str(c), "count": 4},                                  # more than held: 4
               {"id": str(off), "count": "1"}, {"id": str(sold_out), "count": "1"}, {"id": "99999999", "count": 1},
               {"id": "x", "count": 1}, {"count": 2}, "junk", None]
    _, merged = await log_in(api, user["username"], cart=offline)
    assert merged["code"] == 200 and merged["username"] == user["username"] and merged["data"]["len"] == 3
    held = {int(k): json.loads(v) for k, v in (await services.redis.hgetall(f"cart_{user['id']}")).items()}
    assert held == {a: {"count": 5, "selected": 1}, b: {"count": 2, "selected": 1}, c: {"count": 4, "selected": 1}}
    # what the cart page then shows
    _, cart = await api.get(f"/v1/carts/{user['username']}", token=merged["data"]["token"])
    assert sorted((i["id"], i["count"]) for i in cart["data"]) == [(a, 5), (b, 2), (c, 4)]
    # a failed login merges nothing
    _, refused = await api.post("/v1/tokens", json_body={"username": user["username"], "password": "wrong!",
                                                         "cart": [{"id": str(off), "count": 1}]})
    assert refused["code"] == 10102 and "data" not in refused
    _, empty = await log_in(api, (await shop.user())["username"], cart=None)
    assert empty["data"]["len"] == 0


@pytest.mark.gen_test
async def test_cart_answers_use_the_cart_modules_codes(api, services, shop):
    user = await shop.user()
    sku, off = await shop.sku(stock=2), await shop.sku(launched=False)
    path, token = f"/v1/carts/{user['username']}", user["token"]
    _, added = await api.post(path, json_body={"sku_id": sku, "count": "2"}, token=token)
    assert added["code"] == 200
    # cart.html's "+" checks 30103
    status, over = await api.put(path, json_body={"sku_id": str(sku), "state": "add"}, token=token)
    assert status == 200 and over["code"] == 30103 and over["error"] == f"商品[{sku}]库存不足"
    _, over = await api.post(path, json_body={"sku_id": sku, "count": 1}, token=token)
    assert over["code"] == 30103
    _, unknown = await api.post(path, json_body={"sku_id": off, "count": 1}, token=token)
    assert unknown["code"] == 30101
    status, bad = await api.put(path, json_body={"sku_id": sku, "state": "explode"}, token=token)
    assert status == 400 and bad["code"] == 30102
    # cart.html's "-" sends "del" also at 1: the count stays 1
    await api.put(path, json_body={"sku_id": sku, "state": "del"}, token=token)
    status, at_one = await api.put(path, json_body={"sku_id": sku, "state": "del"}, token=token)
    assert status == 200 and at_one["code"] == 200 and at_one["data"][0]["count"] == 1
    # the order module keeps its own code
    await shop.execute("UPDATE sku SET stock=0 WHERE id=%s", sku)
    _, short = await create_order(api, user)
    assert short["code"] == 50103


# ---- the original catalog endpoints ----------------------------------------------------------

async def load_demo_catalog(shop):
    async with shop.pool.acquire() as conn:
        await demo.load_catalog(conn)
        await demo.load_catalogs(conn)
        await conn.commit()
    return {r["name"]: r["id"] for r in await shop.fetchall("SELECT id, name FROM sku")}


@pytest.mark.gen_test
async def test_goods_index_has_three_skus_on_sale_of_every_catalog(api, services, shop):
    skus = await load_demo_catalog(shop)
    await shop.execute("UPDATE sku SET is_launched=0 WHERE id=%s", skus["纯棉T恤 红色 M"])
    await shop.sku()  # an SPU in no catalog is not on the home page
    response = await fetch(api, "GET", "/v1/goods/index")
    body = body_of(response)
    assert body["code"] == 200 and body["base_url"] == services.config.base_url + "/static/images/"
    assert [c["catalog_name"] for c in body["data"]] == ["服饰箱包", "数码", "家居"]
    first = body["data"][0]
    assert set(first) == {"catalog_id", "catalog_name", "sku"} and isinstance(first["catalog_id"], int)
    assert [s["skuid"] for s in first["sku"]] == [skus["纯棉T恤 红色 L"], skus["纯棉T恤 白色 M"],
                                                  skus["纯棉T恤 白色 L"]]
    assert first["sku"][0] == {"skuid": skus["纯棉T恤 红色 L"], "name": "纯棉T恤 红色 L",
                               "caption": "100%新疆长绒棉, 透气舒适", "price": "59.00", "image": "tshirt_red.svg"}
    assert all(len(c["sku"]) == 3 for c in body["data"])
    # what the page builds from it resolves
    image = await fetch(api, "GET", urlparse(body["base_url"] + first["sku"][0]["image"]).path)
    assert image.code == 200


@pytest.mark.gen_test
async def test_goods_detail_and_sku_selector_as_the_product_page_reads_them(api, services, shop):
    skus = await load_demo_catalog(shop)
    await shop.execute("UPDATE sku SET is_launched=0 WHERE id=%s", skus["纯棉T恤 黑色 M"])
    await shop.execute("UPDATE sku SET is_launched=0 WHERE id=%s", skus["纯棉T恤 黑色 L"])
    red_l = skus["纯棉T恤 红色 L"]
    _, body = await api.get(f"/v1/goods/detail/{red_l}")
    assert body["code"] == 200 and body["base_url"] == services.config.base_url + "/static/images/"
    d = body["data"]
    spu = (await shop.fetchone("SELECT spu_id FROM sku WHERE id=%s", red_l))["spu_id"]
    assert (d["spu"], d["name"], d["caption"], d["price"], d["image"]) == (
        spu, "纯棉T恤 红色 L", "100%新疆长绒棉, 透气舒适", "59.00", "tshirt_red.svg")
    assert d["catalog_name"] == "服饰箱包" and isinstance(d["catalog_id"], int)
    assert d["sku_sale_attr_names"] == ["颜色", "尺寸"] and d["sku_sale_attr_val_names"] == ["红色", "L"]
    color, size = d["sku_sale_attr_id"]
    # every value on sale once (黑色 is off sale), by attribute id (JSON object keys are strings)
    assert d["sku_all_sale_attr_vals_name"] == {str(color): ["红色", "白色"], str(size): ["M", "L"]}
    ids = d["sku_all_sale_attr_vals_id"]
    assert [len(set(ids[str(color)])), len(set(ids[str(size)]))] == [2, 2]
    # the page marks the SKU's own values by comparing these ids
    assert d["sku_sale_attr_val_id"] == [ids[str(color)][0], ids[str(size)][1]]
    assert d["spec"] == {} and d["detail_image"] == ""

    # choosing 白色 + M on the page posts {"spuid", "<attr id>": <value id>} (JSON.stringify of its object)
    white, m = ids[str(color)][1], ids[str(size)][0]
    chosen = await fetch(api, "POST", "/v1/goods/sku", body=json.dumps({str(color): white, str(size): m, "spuid": spu}),
                         headers={"Content-Type": "application/json", "authorization": "null"})
    assert body_of(chosen) == {"code": 200, "data": skus["纯棉T恤 白色 M"]}
    # a combination nobody sells, another SPU's value, nonsense
    _, none = await api.post("/v1/goods/sku", json_body={"spuid": spu, str(color): white, str(size): white})
    assert none["code"] == 40050 and none["error"]
    cup = skus["真空保温杯 白色 350ml"]
    _, cup_detail = await api.get(f"/v1/goods/detail/{cup}")
    cup_value = cup_detail["data"]["sku_sale_attr_val_id"][0]
    _, foreign = await api.post("/v1/goods/sku", json_body={"spuid": spu, str(color): cup_value})
    assert foreign["code"] == 40050
    status, bad = await api.post("/v1/goods/sku", json_body={"spuid": spu, "colour": "red"})
    assert status == 400 and bad["code"] == 50109
    status, missing = await api.get(f"/v1/goods/detail/{skus['纯棉T恤 黑色 M']}")
    assert status == 404 and missing["code"] == 40300 and missing["error"]


# ---- images and the way back from Alipay -----------------------------------------------------

@pytest.mark.gen_test
async def test_every_answer_naming_images_has_an_absolute_base_url(api, services, shop):
    expected = services.config.base_url + "/static/images/"
    assert expected.startswith("http://127.0.0.1:")
    user, homeless = await shop.user(), await shop.user(with_address=False)
    sku = await shop.sku(stock=10)
    await buy_now(api, user, sku, 1)
    answers = {
        "skus": await api.get("/v1/goods/skus"),
        "sku": await api.get(f"/v1/goods/skus/{sku}"),
        "index": await api.get("/v1/goods/index"),
        "confirm": await api.get(P, params={"status": 0, "settlement_type": 1, "sku_id": sku, "buy_num": 1},
                                 token=user["token"]),
        "confirm 50100": await api.get(P, params={"status": 0, "settlement_type": 1, "sku_id": sku, "buy_num": 1},
                                       token=homeless["token"]),
        "orders": await api.get(P, params={"status": 1}, token=user["token"]),
    }
    for name, (_, body) in answers.items():
        assert body["base_url"] == expected, name
    no_address = answers["confirm 50100"][1]
    assert no_address["code"] == 50100 and no_address["data"]["addresses"] == []
    assert no_address["data"]["sku_list"][0]["default_image_url"] == "x.svg"
    # behind a proxy: the public URL
    services.config = dataclasses.replace(services.config, public_url="https://shop.example/")
    _, body = await api.get("/v1/goods/skus")
    assert body["base_url"] == "https://shop.example/static/images/"


@pytest.mark.gen_test
async def test_the_return_url_is_configurable_with_the_order_id(api, services, shop, sandbox):
    assert return_url(services.config, "1") == services.config.base_url + "/static/payResult.html"
    user = await shop.user()
    sku = await shop.sku(stock=10, price="1.00")
    _, body = await buy_now(api, user, sku, 1)
    order_id = body["data"]["order_id"]

    async def alipay_page_pay_url():
        response = await fetch(api, "GET", body["data"]["pay_url"].replace(services.config.base_url, ""))
        assert response.code == 302
        return response.headers["Location"]

    def return_url_in(url):
        return parse_qs(urlparse(url).query)["return_url"][0]

    assert return_url_in(await alipay_page_pay_url()) == services.config.base_url + "/static/payResult.html"
    allow_origins(services, PAGES, return_url=PAGES + "/templates/pay_success.html?order_id={order_id}")
    cashier = await alipay_page_pay_url()
    sent = return_url_in(cashier)
    assert sent == f"{PAGES}/templates/pay_success.html?order_id={order_id}"
    # the sandbox cashier sends the browser there, with Alipay's signed parameters added
    back = await sandbox.open_and_pay(cashier)
    assert back.startswith(sent + "&") and f"out_trade_no={order_id}" in back
