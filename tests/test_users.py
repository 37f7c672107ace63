"""Register, login and the token check."""
import time

import jwt
import pytest

from store.auth import check_password, hash_password, make_token


def test_password_hash_is_salted_and_checks():
    first, second = hash_password("secret123"), hash_password("secret123")
    assert first != second and first.startswith("scrypt$")
    assert check_password("secret123", first) and not check_password("secret124", first)
    assert not check_password("secret123", "md5$whatever")


@pytest.mark.gen_test
async def test_register_then_login(api):
    status, body = await api.post("/v1/users", json_body={"uname": "alice_1", "password": "secret123",
                                                          "email": "a@example.com", "phone": "13600000000"})
    assert status == 200 and body["code"] == 200 and body["username"] == "alice_1"
    token = body["data"]["token"]
    status, body = await api.get("/v1/users/alice_1/address", token=token)
    assert status == 200 and body["data"] == []

    status, body = await api.post("/v1/tokens", json_body={"username": "alice_1", "password": "secret123"})
    assert body["code"] == 200 and body["data"]["token"]

    status, body = await api.post("/v1/users", json_body={"uname": "alice_1", "password": "another1"})
    assert body["code"] == 10101


@pytest.mark.gen_test
async def test_login_refuses_wrong_password_and_unknown_user(api, shop):
    user = await shop.user()
    for username, password in ((user["username"], "wrong-password"), ("nobody_here", "secret123")):
        status, body = await api.post("/v1/tokens", json_body={"username": username, "password": password})
        assert status == 200 and body["code"] == 10102 and "token" not in body.get("data", {})


@pytest.mark.gen_test
@pytest.mark.parametrize("payload", [
    {"uname": "ab", "password": "secret123"},           # name too short
    {"uname": "bad name!", "password": "secret123"},    # characters
    {"uname": "carol", "password": "123"},              # password too short
    {"uname": "carol", "password": 12345678},           # wrong type
    {"uname": "carol", "password": "secret123", "phone": "12"},
    {"password": "secret123"},
])
async def test_register_rejects_bad_input(api, payload):
    status, body = await api.post("/v1/users", json_body=payload)
    assert status == 400 and body["code"] == 50109 and body["errmsg"]


@pytest.mark.gen_test
async def test_token_missing_expired_tampered_or_unknown_user_is_401(api, services, shop):
    user = await shop.user()
    secret = services.config.jwt_secret
    expired = jwt.encode({"username": user["username"], "exp": int(time.time()) - 10}, secret, algorithm="HS256")
    tampered = user["token"][:-2] + ("AA" if not user["token"].endswith("AA") else "BB")
    foreign = jwt.encode({"username": user["username"], "exp": int(time.time()) + 60},
                         "another-secret-of-sufficient-length-32", algorithm="HS256")
    ghost = make_token("ghost_user", secret)
    path = f"/v1/users/{user['username']}/address"
    for token in (None, "", expired, tampered, foreign, ghost, "not-a-jwt"):
        status, body = await api.get(path, token=token)
        assert status == 401 and body["code"] == 403, token
    status, body = await api.get(path, token="Bearer " + user["token"])
    assert status == 200 and body["code"] == 200


@pytest.mark.gen_test
async def test_tokens_carry_the_user_id_and_tokens_of_the_contracts_shape_still_work(api, services, shop):
    user = await shop.user()
    _, login = await api.post("/v1/tokens", json_body={"username": user["username"], "password": "secret123"})
    claims = jwt.decode(login["data"]["token"], services.config.jwt_secret, algorithms=["HS256"])
    assert claims["username"] == user["username"] and claims["uid"] == user["id"]
    # {"username", "exp"} only, as the contract describes: the user is looked up by name
    plain = jwt.encode({"username": user["username"], "exp": int(time.time()) + 60}, services.config.jwt_secret,
                       algorithm="HS256")
    for token in (login["data"]["token"], plain):
        status, body = await api.get(f"/v1/carts/{user['username']}", token=token)
        assert status == 200 and body["code"] == 200
    # a uid that is not an integer is ignored, never trusted: the user is the one named
    other = await shop.user()
    sku = await shop.sku()
    await shop.put_in_cart(user, sku)
    odd = jwt.encode({"username": user["username"], "uid": str(other["id"]), "exp": int(time.time()) + 60},
                     services.config.jwt_secret, algorithm="HS256")
    status, body = await api.get(f"/v1/carts/{user['username']}", token=odd)
    assert status == 200 and [item["id"] for item in body["data"]] == [sku]
