"""Catalog reads and the Redis cart."""
import json

import pytest


@pytest.mark.gen_test
async def test_catalog_lists_launched_skus_with_attributes(api, shop):
    shown = await shop.sku(price="199.00", attrs=(("颜色", "红色"), ("尺寸", "15寸")))
    hidden = await shop.sku(launched=False)
    _, body = await api.get("/v1/goods/skus", params={"page_size": 50})
    ids = [s["id"] for s in body["data"]["skus"]]
    assert shown in ids and hidden not in ids and body["data"]["total"] == 1
    sku = body["data"]["skus"][0]
    assert sku["price"] == "199.00"
    assert sku["sku_sale_attr_names"] == ["颜色", "尺寸"] and sku["sku_sale_attr_vals"] == ["红色", "15寸"]
    status, detail = await api.get(f"/v1/goods/skus/{shown}")
    assert status == 200 and detail["data"]["id"] == shown
    status, missing = await api.get(f"/v1/goods/skus/{hidden}")
    assert status == 404 and missing["code"] == 50101
    status, bad = await api.get("/v1/goods/skus", params={"page": "x"})
    assert status == 400 and bad["code"] == 50109


@pytest.mark.gen_test
async def test_cart_add_select_change_and_delete(api, services, shop):
    user = await shop.user()
    a, b = await shop.sku(stock=5), await shop.sku(price="12.50")
    path = f"/v1/carts/{user['username']}"
    tok = user["token"]
    _, body = await api.post(path, json_body={"sku_id": a, "count": 2}, token=tok)
    assert [(i["id"], i["count"], i["selected"]) for i in body["data"]] == [(a, 2, 1)]
    _, body = await api.post(path, json_body={"sku_id": a, "count": 1}, token=tok)
    _, body = await api.post(path, json_body={"sku_id": b, "count": 1}, token=tok)
    assert {i["id"]: i["count"] for i in body["data"]} == {a: 3, b: 1}
    assert body["data"][1]["price"] == "12.50" and body["data"][1]["sku_sale_attr_name"] == ["颜色"]

    _, body = await api.put(path, json_body={"state": "add", "sku_id": a}, token=tok)
    assert body["data"][0]["count"] == 4
    _, body = await api.put(path, json_body={"state": "del", "sku_id": a}, token=tok)
    assert body["data"][0]["count"] == 3
    _, body = await api.put(path, json_body={"state": "unselect", "sku_id": b}, token=tok)
    assert {i["id"]: i["selected"] for i in body["data"]} == {a: 1, b: 0}
    _, body = await api.put(path, json_body={"state": "unselectall"}, token=tok)
    assert all(i["selected"] == 0 for i in body["data"])
    _, body = await api.put(path, json_body={"state": "selectall"}, token=tok)
    assert all(i["selected"] == 1 for i in body["data"])
    _, body = await api.delete(path, json_body={"sku_id": a}, token=tok)
    assert [i["id"] for i in body["data"]] == [b]

    stored = await services.redis.hgetall(f"cart_{user['id']}")
    assert json.loads(stored[str(b)]) == {"count": 1, "selected": 1}


@pytest.mark.gen_test
async def test_cart_refuses_bad_counts_and_unsellable_skus(api, services, shop):
    user = await shop.user()
    sku, off = await shop.sku(stock=3), await shop.sku(launched=False)
    path, tok = f"/v1/carts/{user['username']}", user["token"]
    for payload in ({"sku_id": sku, "count": 0}, {"sku_id": sku, "count": -1}, {"sku_id": sku, "count": "2x"},
                    {"sku_id": sku, "count": 1.5}, {"sku_id": sku, "count": 100}, {"sku_id": "a", "count": 1},
                    {"count": 1}):
        status, body = await api.post(path, json_body=payload, token=tok)
        assert status == 400 and body["code"] == 30102, payload
    _, body = await api.post(path, json_body={"sku_id": sku, "count": 4}, token=tok)
    assert body["code"] == 30103 and f"[{sku}]" in body["errmsg"]
    _, body = await api.post(path, json_body={"sku_id": off, "count": 1}, token=tok)
    assert body["code"] == 30101
    _, body = await api.post(path, json_body={"sku_id": 999999, "count": 1}, token=tok)
    assert body["code"] == 30101
    _, body = await api.post(path, json_body={"sku_id": sku, "count": 3}, token=tok)
    _, body = await api.put(path, json_body={"state": "add", "sku_id": sku}, token=tok)
    assert body["code"] == 30103
    status, body = await api.put(path, json_body={"state": "explode", "sku_id": sku}, token=tok)
    assert status == 400 and body["code"] == 30102
    _, body = await api.put(path, json_body={"state": "select", "sku_id": 999999}, token=tok)
    assert body["code"] == 30101
    assert await services.redis.hkeys(f"cart_{user['id']}") == [str(sku)]


@pytest.mark.gen_test
async def test_cart_is_own_user_only(api, shop):
    owner, other = await shop.user(), await shop.user()
    status, body = await api.get(f"/v1/carts/{owner['username']}", token=other["token"])
    assert status == 403


@pytest.mark.gen_test
async def test_concurrent_adds_are_not_lost(api, shop):
    import asyncio
    user = await shop.user()
    sku = await shop.sku(stock=50)
    path = f"/v1/carts/{user['username']}"
    await asyncio.gather(*[api.post(path, json_body={"sku_id": sku, "count": 1}, token=user["token"])
                           for _ in range(20)])
    _, body = await api.get(path, token=user["token"])
    assert body["data"][0]["count"] == 20


@pytest.mark.gen_test(timeout=60)
async def test_a_cart_holds_at_most_200_kinds_of_item(api, services, shop, monkeypatch):
    """A real store caps the cart; without a cap a bot's orders could hold thousands of lines.
    A full cart still takes more of what it holds; a login's offline cart adds no new kind to it;
    an over-full cart (filled before the cap) settles nothing and changes nothing."""
    from store import cart
    monkeypatch.setattr(cart, "MAX_CART_ITEMS", 3)  # the rule, on a small cart
    user = await shop.user()
    skus = [await shop.sku(stock=50) for _ in range(5)]
    path, tok = f"/v1/carts/{user['username']}", user["token"]
    for sku in skus[:3]:
        _, body = await api.post(path, json_body={"sku_id": sku, "count": 1}, token=tok)
        assert body["code"] == 200
    status, full = await api.post(path, json_body={"sku_id": skus[3], "count": 1}, token=tok)
    assert (status, full["code"]) == (400, 30102) and "3种" in full["errmsg"]
    _, more = await api.post(path, json_body={"sku_id": skus[0], "count": 2}, token=tok)
    assert {i["id"]: i["count"] for i in more["data"]} == {skus[0]: 3, skus[1]: 1, skus[2]: 1}

    _, login = await api.post("/v1/tokens", json_body={
        "username": user["username"], "password": "secret123",
        "cart": [{"id": str(skus[4]), "count": "2"}, {"id": str(skus[1]), "count": "5"}]})
    assert login["code"] == 200 and login["data"]["len"] == 3
    held = {int(k): json.loads(v)["count"] for k, v in (await services.redis.hgetall(f"cart_{user['id']}")).items()}
    assert held == {skus[0]: 3, skus[1]: 5, skus[2]: 1}

    await shop.put_in_cart(user, skus[3], 1)  # four kinds, as a cart filled before the cap could be
    status, refused = await api.post("/v1/orders/processing/", json_body={
        "status": 0, "settlement_type": 0, "address_id": user["address_id"]}, token=tok)
    assert refused["code"] == 50101 and "3种" in refused["errmsg"]
    assert (await shop.fetchone("SELECT COUNT(*) AS n FROM order_info"))["n"] == 0
    assert {s: (await shop.fetchone("SELECT stock FROM sku WHERE id=%s", s))["stock"] for s in skus} == \
        {s: 50 for s in skus}
