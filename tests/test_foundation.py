"""Migrations, configuration and the error envelope."""
import json

import pymysql
import pytest

import config as config_module
import db
from handlers.base import BaseHandler


def test_migrations_apply_once_and_a_second_run_changes_nothing(database_url):
    target = config_module.parse_mysql_url(database_url)
    assert db.apply_migrations(target) == []  # the session fixture applied them already
    conn = pymysql.connect(host=target.host, port=target.port, user=target.user, database=target.db)
    with conn.cursor() as cur:
        cur.execute("SELECT version FROM schema_version ORDER BY version")
        versions = [row[0] for row in cur.fetchall()]
    conn.close()
    assert versions == [v for v, _ in db.migration_files()]


def test_migrations_on_a_new_database_create_every_table(database_url):
    target = config_module.parse_mysql_url(database_url + "_fresh")
    try:
        applied = db.apply_migrations(target)
        assert applied and db.apply_migrations(target) == []
        conn = pymysql.connect(host=target.host, port=target.port, user=target.user, database=target.db)
        with conn.cursor() as cur:
            cur.execute("SHOW TABLES")
            tables = {row[0] for row in cur.fetchall()}
            cur.execute("SELECT ENGINE, TABLE_COLLATION FROM information_schema.tables WHERE table_schema=%s",
                        (target.db,))
            engines = set(cur.fetchall())
        conn.close()
        assert {"user_profile", "address", "spu", "spu_sale_attr", "sku", "sale_attr_value", "order_info",
                "order_goods"} <= tables
        assert engines == {("InnoDB", "utf8mb4_unicode_ci")}
    finally:
        db.drop_database(target)


def test_stock_can_never_go_negative(database_url, io_loop, shop):
    async def run():
        sku = await shop.sku(stock=1)
        with pytest.raises(pymysql.err.MySQLError):
            await shop.execute("UPDATE sku SET stock = stock - 2 WHERE id = %s", sku)
        return (await shop.fetchone("SELECT stock FROM sku WHERE id=%s", sku))["stock"]
    assert io_loop.run_sync(run) == 1


def test_configuration_defaults_and_errors():
    config = config_module.load(environ={}, env_file="/nonexistent")
    assert config.port == 8000 and config.mysql_url == "mysql://root:@127.0.0.1:3306/dadashop"
    assert config.redis_url == "redis://127.0.0.1:6379/0" and str(config.freight) == "10.00"
    assert config.order_timeout == 1800 and config.admin_key is None
    assert config.base_url == "http://127.0.0.1:8000"
    for bad in ({"DADASHOP_PORT": "http"}, {"DADASHOP_FREIGHT": "ten"}, {"DADASHOP_MYSQL_URL": "postgres://x/y"},
                {"DADASHOP_ORDER_TIMEOUT": "0"}):
        with pytest.raises(config_module.ConfigError):
            config_module.load(environ=bad, env_file="/nonexistent")


def test_server_exits_with_a_message_when_a_service_is_unreachable():
    import subprocess
    import sys
    from pathlib import Path
    for env in ({"DADASHOP_MYSQL_URL": "mysql://root:@127.0.0.1:1/nowhere"},
                {"DADASHOP_REDIS_URL": "redis://127.0.0.1:1/0"}):
        result = subprocess.run([sys.executable, "server.py", "--port", "1"], env={**env, "PATH": ""},
                                capture_output=True, text=True, timeout=60, cwd=Path(__file__).parent.parent)
        assert result.returncode == 1
        assert "127.0.0.1:1" in result.stderr and "Traceback" not in result.stderr


class Boom(BaseHandler):
    async def get(self):
        raise RuntimeError("secret detail")


@pytest.mark.gen_test
async def test_unexpected_errors_are_500_with_a_request_id_and_no_traceback(app, api, caplog):
    app.wildcard_router.add_rules([(r"/boom", Boom)])
    response = await api.client.fetch(api.base_url + "/boom", raise_error=False)
    status, body = response.code, json.loads(response.body)
    # the same id in the body, the response header and the log line with the traceback
    assert status == 500 and body["code"] == 500 and len(body["request_id"]) == 32
    assert response.headers["X-Request-Id"] == body["request_id"]
    assert "secret detail" not in str(body) and "Traceback" not in str(body)
    assert any(body["request_id"] in r.getMessage() for r in caplog.records)


@pytest.mark.gen_test
async def test_unknown_url_and_method_answer_json(api):
    status, body = await api.get("/v1/nothing/here")
    assert status == 404 and body["code"] == 404
    status, body = await api.request("PATCH", "/v1/tokens")
    assert status == 405 and body["code"] == 405
