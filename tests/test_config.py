"""Configuration: every variable's good and bad values, .env handling, the one-line start-up error."""
import dataclasses
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import config as config_module
from config import VARIABLES, Config, ConfigError, load

ROOT = Path(__file__).resolve().parent.parent
KEY = str(ROOT / "alipay_sandbox" / "dev_keys" / "DEV_ONLY_alipay_public_key.pem")
NO_FILE = "/nonexistent/.env"

# variable: [(text, the Config value it gives)], [texts refused]
CASES = {
    "DADASHOP_PORT": ([("1", 1), ("8000", 8000), ("65535", 65535), (" 81 ", 81)],
                      ["0", "65536", "-1", "80.5", "http", "0x50"]),
    "DADASHOP_BIND": ([("127.0.0.1", "127.0.0.1"), ("::", "::"), ("localhost", "localhost")],
                      ["127.0.0.1:80", "bad host", "-x"]),
    "DADASHOP_MYSQL_URL": ([("mysql://u:p@db:3307/shop", "mysql://u:p@db:3307/shop"),
                            ("mariadb://root@127.0.0.1/x", "mariadb://root@127.0.0.1/x")],
                           ["postgres://h/db", "mysql://h:3306/", "mysql://h:x/db", "mysql://h:70000/db", "db"]),
    "DADASHOP_REDIS_URL": ([("redis://r:6380/2", "redis://r:6380/2"), ("rediss://:pw@r/0", "rediss://:pw@r/0"),
                            ("unix:///run/redis.sock", "unix:///run/redis.sock"), ("redis://r", "redis://r"),
                            ("redis+cluster://127.0.0.1:7001/0", "redis+cluster://127.0.0.1:7001/0")],
                           ["http://r:6379/0", "redis://r:6379/abc", "redis://:6379/0", "redis://r:99999/0"]),
    "DADASHOP_JWT_SECRET": ([("x" * 32, "x" * 32), ("秘" * 11, "秘" * 11)],  # 33 bytes in UTF-8
                            ["short", "x" * 31]),
    "DADASHOP_ADMIN_KEY": ([("k" * 8, "k" * 8), ("demo-admin-key", "demo-admin-key")],
                           ["seven77", "with space", "k" * 257]),
    "DADASHOP_PUBLIC_URL": ([("https://shop.example.com", "https://shop.example.com"),
                             ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/")],
                            ["shop.example.com", "ftp://x", "https://x/?a=1", "https://x:0"]),
    "DADASHOP_FREIGHT": ([("0", Decimal("0.00")), ("10", Decimal("10.00")), ("12.5", Decimal("12.50")),
                          ("10000", Decimal("10000.00"))],
                         ["-1", "1.005", "10000.01", "ten", "NaN", "Infinity"]),
    "DADASHOP_ORDER_TIMEOUT": ([("1", 1), ("1800", 1800), ("1296000", 1296000)],
                               ["0", "1296001", "30m", "1.5"]),
    "DADASHOP_SWEEP_INTERVAL": ([("1", 1.0), ("0.5e1", 5.0), ("86400", 86400.0)],
                                ["0", "0.5", "x", "86401", "nan", "inf", "-30"]),
    "DADASHOP_MYSQL_POOL_SIZE": ([("1", 1), ("1000", 1000)], ["0", "1001", "many"]),
    "DADASHOP_CORS_ORIGINS": ([(" http://a.example:9000/ , https://b.example ", ("http://a.example:9000",
                                                                                 "https://b.example")),
                               ("*", ("*",))],
                              ["a.example", "http://a.example/pages", "ftp://a.example", "http://a.example:99999"]),
    "DADASHOP_RETURN_URL": ([("https://a.example/templates/pay_success.html?order_id={order_id}",
                              "https://a.example/templates/pay_success.html?order_id={order_id}")],
                            ["/pay_success.html", "javascript:alert(1)"]),
    "DADASHOP_MYSQL_CONNECT_TIMEOUT": ([("0.1", 0.1), ("3", 3.0), ("600", 600.0)], ["0", "601", "soon", "nan"]),
    "DADASHOP_MYSQL_STATEMENT_TIMEOUT": ([("0.5", 0.5), ("3600", 3600.0)], ["0", "-5", "3601", "5s"]),
    "DADASHOP_REDIS_TIMEOUT": ([("0.05", 0.05), ("2", 2.0)], ["0", "0.01", "601", "inf"]),
    "DADASHOP_RETRY_AFTER": ([("1", 1), ("3600", 3600)], ["0", "1.5", "3601", "later"]),
    "DADASHOP_DRAIN_TIME": ([("1", 1.0), ("20", 20.0), ("3600", 3600.0)], ["0", "0.5", "3601", "-1"]),
    "DADASHOP_LOG_FORMAT": ([("json", "json"), ("text", "text")], ["JSON", "xml", "jsonl"]),
    "DADASHOP_ACCESS_LOG": ([("all", "all"), ("errors", "errors")], ["none", "ALL"]),
    "DADASHOP_EVENT_LOOP": ([("uvloop", "uvloop"), ("asyncio", "asyncio")], ["trio", "UVLOOP"]),
    "DADASHOP_METRICS_PUBLIC": ([("1", True), ("0", False)], ["maybe", "2"]),
    "ALIPAY_APP_ID": ([("2021000117600000", "2021000117600000")], ["app-1", "1" * 33]),
    "ALIPAY_APP_PRIVATE_KEY": ([(KEY, KEY)], ["/nonexistent/key.pem", str(ROOT)]),
    "ALIPAY_PUBLIC_KEY": ([(KEY, KEY)], ["/nonexistent/key.pem", str(ROOT)]),
    "ALIPAY_GATEWAY": ([("https://openapi.alipay.com/gateway.do", "https://openapi.alipay.com/gateway.do")],
                       ["openapi.alipay.com/gateway.do", "https://x/gateway.do?charset=utf-8"]),
    "ALIPAY_SELLER_ID": ([("2088000000000000", "2088000000000000")], ["2088", "1088000000000000", "2088x00000000000"]),
    # abuse resistance (docs/limits.md)
    "DADASHOP_RATE_LIMITS": ([("0", False), ("1", True), ("off", False), ("true", True)], ["2", "maybe"]),
    **{name: ([("5/minute", "5/minute"), ("7/minute;70/hour", "7/minute;70/hour"), ("2/2 second", "2/2 second")],
              ["lots", "5 per fortnight", "5"])
       for name in ("DADASHOP_LIMIT_LOGIN_PER_IP", "DADASHOP_LIMIT_LOGIN_PER_ACCOUNT", "DADASHOP_LIMIT_REGISTER_PER_IP",
                    "DADASHOP_LIMIT_ORDERS_PER_BUYER", "DADASHOP_LIMIT_BAD_CALLBACKS_PER_IP")},
    "DADASHOP_MAX_CONCURRENT_HASHES": ([("1", 1), ("64", 64)], ["0", "65", "two"]),
    "DADASHOP_MAX_BODY_BYTES": ([("1024", 1024), ("65536", 65536)], ["1023", "64k"]),
    "DADASHOP_MAX_NOTIFY_BYTES": ([("32768", 32768)], ["100", "x"]),
    "DADASHOP_MAX_JSON_DEPTH": ([("2", 2), ("8", 8)], ["1", "101"]),
    "DADASHOP_IDLE_TIMEOUT": ([("75", 75.0), ("1.5", 1.5)], ["0", "0.5", "forever"]),
    "DADASHOP_BODY_TIMEOUT": ([("20", 20.0)], ["0", "3601"]),
    "DADASHOP_TRUST_PROXY": ([("1", True), ("0", False)], ["nginx"]),
}
FIELD = {variable.name: variable.field for variable in VARIABLES}


def test_every_variable_has_cases_and_a_field():
    assert set(CASES) == set(FIELD)
    assert set(FIELD.values()) <= {f.name for f in dataclasses.fields(Config)}


@pytest.mark.parametrize("name,text,expected", [(n, t, e) for n, (good, _) in CASES.items() for t, e in good])
def test_good_values_are_taken(name, text, expected):
    assert getattr(load(environ={name: text}, env_file=NO_FILE), FIELD[name]) == expected


@pytest.mark.parametrize("name,text", [(n, t) for n, (_, bad) in CASES.items() for t in bad])
def test_bad_values_stop_with_one_line_naming_the_variable_and_what_it_accepts(name, text):
    with pytest.raises(ConfigError) as error:
        load(environ={name: text}, env_file=NO_FILE)
    message = str(error.value)
    variable = next(v for v in VARIABLES if v.name == name)
    assert message.startswith(f"{name} must be {variable.allowed}, got ")
    assert "\n" not in message


def test_the_sweep_interval_message_is_exact_and_zero_is_refused():
    for text in ("x", "0"):
        with pytest.raises(ConfigError, match=r"^DADASHOP_SWEEP_INTERVAL must be a number between 1 and 86400, "
                                              rf"got '{text}'$"):
            load(environ={"DADASHOP_SWEEP_INTERVAL": text}, env_file=NO_FILE)


def test_secrets_and_passwords_are_not_repeated_in_errors():
    for name, text in (("DADASHOP_JWT_SECRET", "hunter2-hunter2"), ("DADASHOP_ADMIN_KEY", "hunter2 x")):
        with pytest.raises(ConfigError) as error:
            load(environ={name: text}, env_file=NO_FILE)
        assert "hunter2" not in str(error.value) and str(error.value).endswith(f"got {len(text)} bytes")
    with pytest.raises(ConfigError) as error:
        load(environ={"DADASHOP_MYSQL_URL": "mysql://shop:hunter2@db:x/shop"}, env_file=NO_FILE)
    assert "hunter2" not in str(error.value) and "mysql://shop:***@db:x/shop" in str(error.value)


def test_empty_or_unset_values_give_the_defaults():
    empty = {name: "" for name in FIELD}
    assert load(environ=empty, env_file=NO_FILE) == Config() == load(environ={}, env_file=NO_FILE)
    defaults = Config()
    assert (defaults.port, defaults.sweep_interval, defaults.freight, defaults.admin_key) == (
        8000, 30.0, Decimal("10.00"), None)


def test_env_file_is_read_and_the_environment_wins(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("# the shop's settings\n"
                        "export DADASHOP_PORT=8123\n"
                        "DADASHOP_FREIGHT='12.50'\n"
                        'DADASHOP_ADMIN_KEY="key-with-$dollar-and-#hash"\n'
                        "DADASHOP_SWEEP_INTERVAL=5  # seconds\n"
                        "DADASHOP_ORDER_TIMEOUT=600\n", encoding="utf-8")
    config = load(environ={"DADASHOP_ORDER_TIMEOUT": "900"}, env_file=str(env_file))
    assert (config.port, config.freight, config.sweep_interval, config.order_timeout) == (
        8123, Decimal("12.50"), 5.0, 900)
    assert config.admin_key == "key-with-$dollar-and-#hash"  # quoted values are taken literally


def test_a_bad_value_in_the_env_file_is_refused_too(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("DADASHOP_SWEEP_INTERVAL=0\n")
    with pytest.raises(ConfigError, match="^DADASHOP_SWEEP_INTERVAL must be"):
        load(environ={}, env_file=str(env_file))
    # ... unless the environment gives a good one
    assert load(environ={"DADASHOP_SWEEP_INTERVAL": "10"}, env_file=str(env_file)).sweep_interval == 10.0


def test_unknown_settings_are_named_in_a_warning(caplog):
    load(environ={"DADASHOP_SWEEP_INTERVALL": "5", "DADASHOP_TEST_MYSQL_URL": "x", "PATH": "/bin"}, env_file=NO_FILE)
    warnings = [r.getMessage() for r in caplog.records if r.name == "dadashop.config"]
    assert warnings == ["DADASHOP_SWEEP_INTERVALL is not a setting of this service (a typo?): ignored"]


def test_config_stays_a_frozen_dataclass_for_replace():
    config = load(environ={"DADASHOP_PORT": "9000"}, env_file=NO_FILE)
    changed = dataclasses.replace(config, port=9001, sweep_interval=3600)
    assert (changed.port, changed.sweep_interval, config.port) == (9001, 3600, 9000)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.port = 1
    assert changed.base_url == "http://127.0.0.1:9001"
    assert config_module.parse_mysql_url(changed.mysql_url).db == "dadashop"


def test_the_server_refuses_to_start_with_one_line_on_stderr(tmp_path):
    """The real start-up path: `python server.py` exits 1 before touching MariaDB or Redis."""
    env = {"PATH": "/usr/bin:/bin", "DADASHOP_SWEEP_INTERVAL": "0"}
    result = subprocess.run([sys.executable, str(ROOT / "server.py")], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: DADASHOP_SWEEP_INTERVAL must be a number between 1 and 86400, got '0'"


def test_the_operations_doc_lists_every_variable_with_what_it_accepts():
    rows = {line.split("|")[1].strip().strip("`"): line for line in
            (ROOT / "docs" / "operations.md").read_text().splitlines() if line.startswith("| `")}
    for variable in VARIABLES:
        assert variable.name in rows and f"| {variable.allowed} |" in rows[variable.name]
