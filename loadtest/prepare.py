"""Test data for the load scenarios, written straight into the service's database and Redis.

Buyers get a precomputed password hash (one scrypt per run, not one per buyer), tokens are minted
with the service's JWT secret, carts are written as the service stores them (`cart_<user_id>`).
Every object carries the run's tag, so runs never collide and a run's rows can be found again.
"""
import json
import secrets
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pymysql

import config as config_module
import redis_client
from store.auth import hash_password, make_token

CART_ITEM = json.dumps({"count": 1, "selected": 1})
_PASSWORD_HASH = None


def password_hash():
    global _PASSWORD_HASH
    if _PASSWORD_HASH is None:
        _PASSWORD_HASH = hash_password("loadtest-password")
    return _PASSWORD_HASH


def connect(mysql_url):
    target = config_module.parse_mysql_url(mysql_url)
    return pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                           database=target.db, charset="utf8mb4", autocommit=True)


def new_tag():
    return secrets.token_hex(3)


def make_buyers(conn, tag, count, jwt_secret):
    """`count` buyers with one default address each: [{id, username, token, address_id}]."""
    names = [f"lt{tag}_{i}" for i in range(count)]
    with conn.cursor() as cur:
        for start in range(0, count, 1000):
            cur.executemany("INSERT INTO user_profile (username, password_hash) VALUES (%s, %s)",
                            [(n, password_hash()) for n in names[start:start + 1000]])
        cur.execute("SELECT id, username FROM user_profile WHERE username LIKE %s", (f"lt{tag}\\_%",))
        ids = {username: user_id for user_id, username in cur.fetchall()}
        buyers = [{"id": ids[n], "username": n} for n in names]
        for start in range(0, count, 1000):
            cur.executemany(
                "INSERT INTO address (user_id, receiver, receiver_mobile, address, postcode, tag, is_default) "
                "VALUES (%s, '压测买家', '13600000000', '北京市东城区珍贝大厦', '100010', '家', 1)",
                [(b["id"],) for b in buyers[start:start + 1000]])
        cur.execute("SELECT user_id, id FROM address WHERE user_id BETWEEN %s AND %s",
                    (min(ids.values()), max(ids.values())))
        addresses = dict(cur.fetchall())
    for b in buyers:
        b["address_id"] = addresses[b["id"]]
        b["token"] = make_token(b["username"], jwt_secret, user_id=b["id"])
    return buyers


def make_skus(conn, tag, count, stock, price="9.90"):
    """`count` launched SKUs (one SPU each, one sale attribute), each with `stock` units: their ids."""
    sku_ids = []
    with conn.cursor() as cur:
        for i in range(count):
            cur.execute("INSERT INTO spu (name, caption) VALUES (%s, '压测商品')", (f"lt{tag} spu {i}",))
            spu_id = cur.lastrowid
            cur.execute("INSERT INTO sku (spu_id, name, caption, price, stock, sales, is_launched, default_image_url) "
                        "VALUES (%s, %s, '压测商品', %s, %s, 0, 1, 'mouse_black.svg')",
                        (spu_id, f"lt{tag} 商品 {i}", Decimal(price), stock))
            sku_id = cur.lastrowid
            cur.execute("INSERT INTO spu_sale_attr (spu_id, name, sort) VALUES (%s, '颜色', 0)", (spu_id,))
            cur.execute("INSERT INTO sale_attr_value (sku_id, spu_sale_attr_id, name) VALUES (%s, %s, '黑色')",
                        (sku_id, cur.lastrowid))
            sku_ids.append(sku_id)
    return sku_ids


def fill_carts(redis_url, buyers, sku_ids_of):
    """Put one unit (selected) of each SKU `sku_ids_of(buyer)` names into the buyer's cart."""
    client = redis_client.sync_client(redis_url)  # one server or a Redis Cluster (scripts/cluster.sh)
    try:
        pipe = client.pipeline(transaction=False)
        for i, buyer in enumerate(buyers):
            pipe.delete(f"cart_{buyer['id']}")
            pipe.hset(f"cart_{buyer['id']}", mapping={str(s): CART_ITEM for s in sku_ids_of(buyer)})
            if i % 1000 == 999:
                pipe.execute()
        pipe.execute()
    finally:
        client.close()


def make_order_history(conn, tag, buyers, sku_ids, per_buyer):
    """`per_buyer` orders (one or two lines each, statuses 1..4) for every buyer, written directly."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    order_rows, line_rows = [], []
    for b in buyers:
        for k in range(per_buyer):
            order_id = f"LT{tag}{b['id']:09d}{k:04d}"
            lines = [sku_ids[(b["id"] + k) % len(sku_ids)]]
            if k % 2:
                lines.append(sku_ids[(b["id"] + k + 1) % len(sku_ids)])
            lines = sorted(set(lines))
            amount = Decimal("9.90") * len(lines) + Decimal("10.00")
            created = now - timedelta(minutes=per_buyer - k)
            order_rows.append((order_id, b["id"], b["address_id"], k % 4 + 1, len(lines), amount, created,
                               created + timedelta(minutes=30)))
            line_rows.extend((order_id, s, 1, Decimal("9.90")) for s in lines)
    with conn.cursor() as cur:
        for start in range(0, len(order_rows), 2000):
            cur.executemany(
                "INSERT INTO order_info (order_id, user_id, address_id, receiver, receiver_mobile, address, tag, "
                "status, total_count, total_amount, freight, created_time, pay_deadline) "
                "VALUES (%s, %s, %s, '压测买家', '13600000000', '北京市东城区珍贝大厦', '家', %s, %s, %s, 10.00, %s, %s)",
                order_rows[start:start + 2000])
        for start in range(0, len(line_rows), 4000):
            cur.executemany("INSERT INTO order_goods (order_id, sku_id, count, price) VALUES (%s, %s, %s, %s)",
                            line_rows[start:start + 4000])
