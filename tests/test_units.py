"""Plain unit tests of the pure parts (no database, no Redis, no server)."""
import re
import time
from datetime import datetime
from decimal import Decimal

import pytest

import db
from handlers.base import int_param, str_param
from handlers import views
from store import status
from store import auth
from store.auth import check_pay_link_signature, pay_link_signature
from store.clock import from_shanghai_text, shanghai_time_text
from store.create_order import order_id_at
from store.errors import BAD_PARAMS, UNKNOWN_SKU, BusinessError, OutOfStock
from store.money import money
from store.settle import Line, lines_of, totals


@pytest.mark.parametrize("value,text", [(Decimal("1"), "1.00"), ("0.105", "0.11"), ("0.104", "0.10"),
                                        (Decimal("5009"), "5009.00"), (0, "0.00"), ("199.995", "200.00")])
def test_money_is_two_places_rounded_half_up(value, text):
    assert money(value) == text


def test_order_ids_are_16_digits_below_2_to_the_53_and_valid_out_trade_nos():
    """The seed's shape (yyMMddHHmm + 6 digits of the sequence number); the sequence itself is tested
    against the database in test_original_pages.py."""
    ids = [order_id_at(datetime(2026, 12, 1, 9, 5, 59), n) for n in (1, 999_999, 1_000_000, 1_000_001, 123_456_789)]
    assert ids == ["2612010905000001", "2612010905999999", "2612010905000000", "2612010905000001",
                   "2612010905456789"]
    last = order_id_at(datetime(2089, 12, 31, 23, 59), 999_999)
    assert all(re.fullmatch(r"\d{16}", i) and int(i) < 2 ** 53 for i in ids + [last])
    assert all(re.fullmatch(r"[A-Za-z0-9_]{1,64}", i) for i in ids)


def test_status_machine_allows_only_the_contract_moves():
    allowed = {(frm, to) for frm, to in status.TRANSITIONS.values()}
    assert allowed == {(1, 2), (1, 5), (2, 3), (3, 4)}
    assert status.can("pay", 1) and not status.can("pay", 5) and not status.can("ship", 1)
    assert [s for s in range(1, 6) if status.is_paid(s)] == [2, 3, 4]


def test_shanghai_times_round_trip_through_utc():
    stored = datetime(2019, 11, 18, 3, 50, 46)  # naive UTC
    assert shanghai_time_text(stored) == "2019-11-18 11:50:46"
    assert from_shanghai_text("2019-11-18 11:50:46") == stored
    assert from_shanghai_text("yesterday") is None and from_shanghai_text(None) is None


def test_pay_link_signature_is_per_order_and_per_secret():
    sig = pay_link_signature("secret", "A1")
    assert check_pay_link_signature("secret", "A1", sig)
    assert not check_pay_link_signature("secret", "A2", sig)
    assert not check_pay_link_signature("other", "A1", sig)
    assert not check_pay_link_signature("secret", "A1", "")


@pytest.mark.parametrize("value,expected", [(5, 5), ("5", 5), (" 12 ", 12), ("-3", -3)])
def test_int_param_accepts_integers_and_digit_strings(value, expected):
    assert int_param(value, "n") == expected


@pytest.mark.parametrize("value", [True, 1.5, "1.5", "x", "１２", "9" * 19, [], {}])
def test_int_param_refuses_everything_else_with_400(value):
    with pytest.raises(BusinessError) as caught:
        int_param(value, "n")
    assert (caught.value.code, caught.value.http_status) == (BAD_PARAMS, 400) and "n" in caught.value.errmsg


def test_int_param_bounds_and_defaults():
    assert int_param(None, "n", required=False, default=3) == 3
    for bad in (0, 51):
        with pytest.raises(BusinessError):
            int_param(bad, "n", minimum=1, maximum=50)


def test_str_param_strips_checks_length_and_pattern():
    assert str_param("  ab  ", "s") == "ab"
    assert str_param("", "s", required=False, default="d") == "d"
    for bad in (5, "x" * 6, "abc!"):
        with pytest.raises(BusinessError):
            str_param(bad, "s", max_length=5, pattern=re.compile(r"[a-z]+"))


def sku(sku_id, price="10.00", launched=1):
    return {"id": sku_id, "price": Decimal(price), "name": f"n{sku_id}", "default_image_url": "x.svg",
            "is_launched": launched, "attr_names": ["颜色"], "attr_vals": ["红色"]}


def test_lines_are_sorted_by_sku_id_and_totals_add_freight():
    lines = lines_of({9: 1, 3: 2}, {3: sku(3, "0.10"), 9: sku(9, "199.00")})
    assert [line.sku_id for line in lines] == [3, 9]
    sums = totals(lines, Decimal("10.00"))
    assert (sums.count, sums.goods, sums.payment) == (3, Decimal("199.20"), Decimal("209.20"))


@pytest.mark.parametrize("skus", [{}, {3: sku(3, launched=0)}])
def test_an_unknown_or_off_shelf_sku_is_50101_naming_it(skus):
    with pytest.raises(BusinessError) as caught:
        lines_of({3: 1}, skus)
    assert caught.value.code == UNKNOWN_SKU and "[3]" in caught.value.errmsg


def test_out_of_stock_names_the_sku():
    error = OutOfStock(42)
    assert (error.code, error.errmsg, error.sku_id) == (50103, "商品[42]库存不足", 42)


def test_order_line_view_keeps_the_contract_field_names():
    line = Line(4, 2, Decimal("199.00"), "红袖添香", "2.jpg", ["颜色"], ["红色"])
    assert views.order_line(line.sku_id, line.name, line.image, line.price, line.count, line.attr_names,
                            line.attr_vals) == {
        "id": 4, "name": "红袖添香", "default_image_url": "2.jpg", "price": "199.00", "count": 2,
        "total_amount": "398.00", "sku_sale_attr_names": ["颜色"], "sku_sale_attr_vals": ["红色"]}


def test_compound_transaction_renames_parameters_per_statement_and_drops_comments():
    sql, params = db.compound_transaction([("UPDATE t SET a = %(a)s;", {"a": 1}),
                                           ("-- a comment line\nUPDATE t SET a = %(a)s", {"a": 2})],
                                          declare=["DECLARE v INT"], prelude=[("SET v = %(a)s", {"a": 0})],
                                          result=("SELECT v + %(a)s AS answer", {"a": 3}))
    lines = sql.splitlines()
    assert lines[0] == "BEGIN NOT ATOMIC" and lines[-1] == "END"
    # the variables, the rollback-on-error handler, the prelude, then the transaction; the result after it
    assert lines[1:5] == ["DECLARE v INT;", db.ROLLBACK_ON_ERROR + ";", "SET v = %(a__2)s;", "START TRANSACTION;"]
    assert lines[-3:-1] == ["COMMIT;", "SELECT v + %(a__7)s AS answer;"]
    assert "UPDATE t SET a = %(a__4)s;" in lines and "UPDATE t SET a = %(a__5)s;" in lines
    assert "a comment line" not in sql
    assert params == {"a__2": 0, "a__4": 1, "a__5": 2, "a__7": 3}


def test_only_errors_the_server_sent_count_as_rolled_back_by_the_block():
    import pymysql
    assert db.answered_by_server(pymysql.err.OperationalError(30103, "7"))  # a SIGNAL of ours
    assert db.answered_by_server(pymysql.err.OperationalError(1213, "Deadlock found"))
    assert db.answered_by_server(pymysql.err.IntegrityError(1062, "Duplicate entry"))
    assert not db.answered_by_server(pymysql.err.OperationalError(2013, "Lost connection"))
    assert not db.answered_by_server(pymysql.err.InterfaceError(0, ""))
    assert not db.answered_by_server(TimeoutError())


def test_the_deduct_fragment_is_sql_with_named_parameters():
    text = db.read_fragment("deduct_stock_or_signal")
    assert "--" not in text and "%(count)s" in text and "%(errno)s" in text and ":count" not in text


def test_expand_lists_gives_one_placeholder_per_element():
    sql, params = db.expand_lists("WHERE id IN %(ids)s AND x = %(x)s", {"ids": [1, 2], "x": 3})
    assert sql == "WHERE id IN (%(ids__0)s, %(ids__1)s) AND x = %(x)s"
    assert params == {"ids__0": 1, "ids__1": 2, "x": 3}
    sql, params = db.expand_lists("WHERE (a, b) IN %(pairs)s", {"pairs": [(1, "k"), (2, "j")]})
    assert sql == "WHERE (a, b) IN ((%(pairs__0_0)s, %(pairs__0_1)s), (%(pairs__1_0)s, %(pairs__1_1)s))"
    assert params == {"pairs__0_0": 1, "pairs__0_1": "k", "pairs__1_0": 2, "pairs__1_1": "j"}


def test_an_attribute_error_inside_the_redis_client_is_an_outage_elsewhere_a_bug():
    import asyncio
    from redis.asyncio.connection import Connection
    from store.unavailable import is_unavailable
    connection = Connection()  # never connected: no writer, as after a failover tore it down
    try:
        connection._writer.writelines([b"PING"])
    except AttributeError as exc:
        ours = exc  # raised in this file: a bug of ours stays a 500
    assert not is_unavailable(ours)
    try:
        asyncio.run(connection._send_packed_command([b"PING"]))
    except AttributeError as exc:
        inside = exc  # raised inside redis-py's connection code: the outage, a 503
    assert is_unavailable(inside)


def test_a_closed_transport_under_uvloop_inside_a_client_is_an_outage_elsewhere_a_bug():
    """uvloop raises RuntimeError for a write to a transport closed meanwhile (asyncio's loop only
    logs): raised through redis-py's connection code it is Redis going away (503), not our bug."""
    import asyncio

    import uvloop
    from redis.asyncio.connection import Connection
    from store.unavailable import is_unavailable

    async def write_after_close():
        server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        connection = Connection()
        connection._reader, connection._writer = await asyncio.open_connection("127.0.0.1", port)
        connection._writer.transport.close()  # torn down under the command, as in a failover
        await asyncio.sleep(0.05)
        caught = {}
        try:
            await connection._send_packed_command([b"PING\r\n"])
        except RuntimeError as exc:
            caught["inside"] = exc
        try:
            connection._writer.writelines([b"PING\r\n"])  # the same error, raised from our own code
        except RuntimeError as exc:
            caught["ours"] = exc
        server.close()
        return caught

    caught = uvloop.run(write_after_close())
    assert "handler is closed" in str(caught["inside"])
    assert is_unavailable(caught["inside"]) and not is_unavailable(caught["ours"])
    assert not is_unavailable(RuntimeError("handler is closed"))  # no client in the traceback


def test_a_checked_token_is_remembered_only_until_it_expires():
    secret = "unit-test-secret-0123456789abcdef0123"
    token = auth.make_token("bob", secret, lifetime=1, user_id=7)
    assert auth.read_token(token, secret) == ("bob", 7)
    assert (token, secret) in auth._verified_tokens
    assert auth.read_token(token, secret + "x") is None  # another secret: checked again, refused
    assert auth.read_token(token[:-2] + "xx", secret) is None  # a forged signature is never a hit
    exp = auth._verified_tokens[(token, secret)][2]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    assert auth.read_token(token, secret) is None  # remembered, but past the token's exp


def test_tokens_of_our_shape_are_checked_as_pyjwt_checks_them():
    """read_token checks make_token's tokens itself (a fifth of PyJWT's cost): for every token, valid
    or not, of our shape or not, it must answer what PyJWT answers."""
    import base64
    import json as json_module

    import jwt
    secret = "unit-test-secret-" + "0123456789abcdef" * 4  # long enough for HS512 too
    now = int(time.time())

    def pyjwt_answer(token):
        try:
            payload = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["exp"]})
        except jwt.PyJWTError:
            return None
        uid = payload.get("uid")
        return payload["username"], uid if isinstance(uid, int) and not isinstance(uid, bool) and uid >= 1 else None

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    good = auth.make_token("bob", secret, user_id=7)
    header, payload, signature = good.split(".")
    forged_payload = b64(json_module.dumps({"username": "eve", "exp": now + 60, "uid": 1}).encode())
    tokens = [
        good, auth.make_token("amy", secret), auth.make_token("old", secret, lifetime=-5, user_id=3),
        auth.make_token("bob", secret + "x", user_id=7),                  # another secret
        f"{header}.{forged_payload}.{signature}",                          # payload changed, old signature
        f"{header}.{payload}.{signature[:-2]}AA",                          # signature changed
        f"{header}.{payload}.{signature}=", f"{header}.{payload}.{signature}==", f"{header}.{payload}==.{signature}",
        f"{header}.{payload}!.{signature}", f"{header}.{payload}", f"{header}.{payload}.",
        f"{header}.{payload}.{signature}.extra", "", "...", "not a token",
        jwt.encode({"username": "nbf", "exp": now + 60, "nbf": now + 30}, secret, algorithm="HS256"),
        jwt.encode({"username": "iat", "exp": now + 60, "iat": now}, secret, algorithm="HS256"),
        jwt.encode({"username": "noexp"}, secret, algorithm="HS256"),
        jwt.encode({"username": "strexp", "exp": str(now + 60)}, secret, algorithm="HS256"),
        jwt.encode({"username": "hs512", "exp": now + 60}, secret, algorithm="HS512"),
        jwt.encode({"username": "kid", "exp": now + 60}, secret, algorithm="HS256", headers={"kid": "1"}),
    ]
    for token in tokens:
        auth._verified_tokens.clear()
        assert auth.read_token(token, secret) == pyjwt_answer(token), token
    # and the fast path is the one taken for our own tokens
    assert auth._payload_of_our_token(good, secret)["username"] == "bob"


def test_waiting_for_a_server_fails_at_once_with_what_it_wrote_when_it_exits():
    import subprocess
    import sys
    import time
    from tests.helpers import free_port, wait_until_answers
    proc = subprocess.Popen([sys.executable, "-c", "print('cannot bind'); raise SystemExit(3)"],
                            stdout=subprocess.PIPE, text=True)
    started = time.monotonic()
    with pytest.raises(AssertionError, match="(?s)exited with 3.*cannot bind"):
        wait_until_answers(f"http://127.0.0.1:{free_port()}/", proc, timeout=30, output=proc.stdout.read)
    assert time.monotonic() - started < 10
    silent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with pytest.raises(AssertionError, match="did not answer within 0.5 s"):
        wait_until_answers(f"http://127.0.0.1:{free_port()}/", silent, timeout=0.5)
    assert silent.poll() is not None  # killed, so its output could be read without blocking
