"""The address book: own user only, default first, soft delete."""
import pytest

NEW = {"receiver": "李四", "receiver_phone": "13700000000", "address": "上海市浦东新区 1号", "postcode": "200000",
       "tag": "家"}


@pytest.mark.gen_test
async def test_first_address_is_default_and_default_comes_first(api, shop):
    user = await shop.user(with_address=False)
    path = f"/v1/users/{user['username']}/address"
    _, first = await api.post(path, json_body=NEW, token=user["token"])
    assert first["code"] == 200 and first["data"]["is_default"] is True
    _, second = await api.post(path, json_body=dict(NEW, tag="公司"), token=user["token"])
    assert second["data"]["is_default"] is False
    _, listed = await api.get(path, token=user["token"])
    assert [a["id"] for a in listed["data"]] == [first["data"]["id"], second["data"]["id"]]

    status, body = await api.put(f"{path}/{second['data']['id']}", token=user["token"])
    assert body["code"] == 200
    _, listed = await api.get(path, token=user["token"])
    assert listed["data"][0]["id"] == second["data"]["id"] and listed["data"][0]["is_default"]
    assert [a["is_default"] for a in listed["data"]] == [True, False]


@pytest.mark.gen_test
async def test_soft_delete_keeps_the_row_and_passes_default_on(api, shop):
    user = await shop.user()
    path = f"/v1/users/{user['username']}/address"
    _, added = await api.post(path, json_body=NEW, token=user["token"])
    status, body = await api.delete(f"{path}/{user['address_id']}", token=user["token"])
    assert body["code"] == 200
    row = await shop.fetchone("SELECT is_alive FROM address WHERE id=%s", user["address_id"])
    assert row["is_alive"] == 0
    _, listed = await api.get(path, token=user["token"])
    assert [(a["id"], a["is_default"]) for a in listed["data"]] == [(added["data"]["id"], True)]
    _, again = await api.delete(f"{path}/{user['address_id']}", token=user["token"])
    assert again["code"] == 50102


@pytest.mark.gen_test
async def test_another_users_address_book_is_out_of_reach(api, shop):
    owner, intruder = await shop.user(), await shop.user()
    path = f"/v1/users/{owner['username']}/address"
    for method, kw in (("GET", {}), ("POST", {"json_body": NEW})):
        status, body = await api.request(method, path, token=intruder["token"], **kw)
        assert status == 403 and "data" not in body
    # an id of someone else's address under one's own name: not found, untouched
    own_path = f"/v1/users/{intruder['username']}/address/{owner['address_id']}"
    _, body = await api.delete(own_path, token=intruder["token"])
    assert body["code"] == 50102
    row = await shop.fetchone("SELECT is_alive, is_default FROM address WHERE id=%s", owner["address_id"])
    assert row == {"is_alive": 1, "is_default": 1}


@pytest.mark.gen_test
@pytest.mark.parametrize("change", [{"receiver_phone": "123"}, {"receiver": ""}, {"address": None},
                                    {"postcode": "abc"}, {"receiver": 5}])
async def test_bad_address_is_400_and_adds_nothing(api, shop, change):
    user = await shop.user(with_address=False)
    status, body = await api.post(f"/v1/users/{user['username']}/address", json_body=dict(NEW, **change),
                                  token=user["token"])
    assert status == 400 and body["code"] == 50109
    assert (await shop.fetchone("SELECT COUNT(*) AS n FROM address WHERE user_id=%s", user["id"]))["n"] == 0


@pytest.mark.gen_test
async def test_edit_changes_the_book_not_the_orders_snapshot(api, shop):
    from tests.helpers import buy_now
    user = await shop.user()
    sku = await shop.sku()
    _, order = await buy_now(api, user, sku)
    path = f"/v1/users/{user['username']}/address/{user['address_id']}"
    status, edited = await api.put(path, json_body=dict(NEW, receiver="王五"), token=user["token"])
    assert (status, edited["code"], edited["data"]["receiver"]) == (200, 200, "王五")
    assert edited["data"]["is_default"] is True
    snapshot = await shop.fetchone("SELECT receiver FROM order_info WHERE order_id=%s", order["data"]["order_id"])
    assert snapshot["receiver"] == "张三"
    status, bad = await api.put(path, json_body=dict(NEW, receiver_phone="123"), token=user["token"])
    assert (status, bad["code"]) == (400, 50109)
    _, unknown = await api.put(f"/v1/users/{user['username']}/address/999999", json_body=NEW, token=user["token"])
    assert unknown["code"] == 50102
    other = await shop.user()
    status, _ = await api.put(f"/v1/users/{other['username']}/address/{other['address_id']}", json_body=NEW,
                              token=user["token"])
    assert status == 403
    row = await shop.fetchone("SELECT receiver FROM address WHERE id=%s", other["address_id"])
    assert row["receiver"] == "张三"
