"""End-to-end harness: the real service and the real Alipay sandbox as subprocesses, driven by
headless Debian Chromium through Selenium.

- The sandbox (`python -m alipay_sandbox`) and the service (`python server.py --demo`) start once per
  test session on free ports, with a database of their own (created by the server at start, dropped at
  the end) and the run's Redis index (the `redis_url` fixture of tests/conftest.py). Once per session,
  not per module: carts live in Redis under the user's id, so a second database with ids counting
  from 1 again would hand one module's carts to the next module's buyers.
- Each test gets a fresh browser profile. Screenshots go to `screenshots/` at the repository root
  (git-ignored); a failing test leaves `FAILED-<test>.png` there too.
- Chromium is Debian's (/usr/bin/chromium with /usr/bin/chromedriver); Selenium is never allowed to
  download a driver or a browser. Without them the tests skip locally and FAIL under CI (CI is set).
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pymysql
import pytest

import config as config_module
import db
from tests.helpers import SHIPMENT, free_port, mysql_url_of

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "screenshots"
CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("E2E_CHROMEDRIVER", "/usr/bin/chromedriver")
ADMIN_KEY = "e2e-admin-key"
PASSWORD = "e2e-pass-123"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--lang=zh-CN"]
DESKTOP = (1366, 900)
PHONE = (390, 844)
WAIT = 15  # seconds a page may take to show what a test waits for
# A phone's browser: the pay link sends it to Alipay's phone (wap) cashier, as a real phone would be
PHONE_USER_AGENT = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")

os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager: never download anything


def _unavailable(reason):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run: {reason}. CI must install Debian's chromium and "
                    "chromium-driver (apt-get install -y chromium chromium-driver) and requirements-dev.txt",
                    pytrace=False)
    pytest.skip(f"browser tests need {reason}")


@pytest.fixture(scope="session")
def chromium():
    """Selenium and Debian's Chromium + chromedriver, or skip (locally) / fail (CI)."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        _unavailable("the selenium package (pip install -r requirements-dev.txt)")
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            _unavailable(f"{path} (apt-get install -y chromium chromium-driver)")
    return CHROMIUM, CHROMEDRIVER


# ---- processes -------------------------------------------------------------------------------

def http(method, url, body=None, headers=None, timeout=30):
    """(status, parsed JSON or text) for a plain HTTP call; never raises on an HTTP status."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    text = raw.decode("utf-8", "replace")
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


class Process:
    """A child process with its output in a log file; stopped with SIGTERM (then SIGKILL)."""

    def __init__(self, name, args, env, log_dir):
        self.name = name
        self.log_path = Path(log_dir) / f"{name}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def tail(self, lines=40):
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_until(self, ready, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if ready():
                    return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not answer within {timeout}s:\n{self.tail()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="session")
def e2e_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="session")
def e2e_database():
    """A fresh database name; the server creates it and its schema at start. Dropped at the end."""
    name = f"dadashop_e2e_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    yield name
    db.drop_database(config_module.parse_mysql_url(mysql_url_of(name)))


@pytest.fixture(scope="session")
def sandbox(chromium, e2e_logs):
    """The Alipay sandbox gateway as a subprocess: its base URL."""
    port = free_port()
    proc = Process("alipay-sandbox", [sys.executable, "-m", "alipay_sandbox", "--port", str(port),
                                      "--notify-scale", "0.001"], dict(os.environ), e2e_logs)
    base = f"http://127.0.0.1:{port}"
    try:
        proc.wait_until(lambda: http("GET", base + "/sandbox/api/trades", timeout=2)[0] == 200)
        yield base
    finally:
        proc.stop()


@pytest.fixture(scope="session")
def service(sandbox, e2e_database, redis_url, e2e_logs):
    """`server.py --demo` as a subprocess, configured for the sandbox: its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ,
               DADASHOP_MYSQL_URL=mysql_url_of(e2e_database),
               DADASHOP_REDIS_URL=redis_url,
               ALIPAY_GATEWAY=f"{sandbox}/gateway.do",
               DADASHOP_ADMIN_KEY=ADMIN_KEY,
               DADASHOP_PUBLIC_URL=base,
               # the journeys register many buyers from one address; the limits have tests of their own
               DADASHOP_RATE_LIMITS="0",
               DADASHOP_LOG_FORMAT="text")
    proc = Process("server", [sys.executable, "server.py", "--port", str(port), "--demo"], env, e2e_logs)
    try:
        proc.wait_until(lambda: http("GET", base + "/v1/goods/skus?page_size=1", timeout=2)[0] == 200)
        yield base
    finally:
        proc.stop()


# ---- data through the API and the database ---------------------------------------------------

class Backend:
    """Test data and checks: the service's API (as a buyer or the merchant) and its database."""

    def __init__(self, base, database, sandbox_base):
        self.base = base
        self.database = database
        self.sandbox = sandbox_base

    def call(self, method, path, body=None, token=None, headers=None):
        headers = dict(headers or {})
        if token:
            headers["authorization"] = token
        return http(method, self.base + path, body, headers)

    def buyer(self, *, with_address=True):
        """A new registered buyer: {"username", "password", "token"}."""
        username = "e2e_" + uuid.uuid4().hex[:10]
        status, body = self.call("POST", "/v1/users", {"uname": username, "password": PASSWORD,
                                                       "email": f"{username}@example.com", "phone": "13800000000"})
        assert body["code"] == 200, body
        user = {"username": username, "password": PASSWORD, "token": body["data"]["token"]}
        if with_address:
            status, body = self.call("POST", f"/v1/users/{username}/address", {
                "receiver": "王小二", "receiver_phone": "13912345678", "address": "上海市浦东新区世纪大道 100 号",
                "postcode": "200120", "tag": "家", "is_default": True}, token=user["token"])
            assert body["code"] == 200, body
        return user

    def add_to_cart(self, user, sku_id, count=1):
        status, body = self.call("POST", f"/v1/carts/{user['username']}", {"sku_id": sku_id, "count": count},
                                 token=user["token"])
        assert body["code"] == 200, body
        return body["data"]

    def sku(self, sku_id):
        status, body = self.call("GET", f"/v1/goods/skus/{sku_id}")
        assert body["code"] == 200, body
        return body["data"]

    def skus(self):
        status, body = self.call("GET", "/v1/goods/skus?page_size=50")
        assert body["code"] == 200, body
        return body["data"]["skus"]

    def orders(self, user, order_status=0):
        status, body = self.call("GET", f"/v1/orders/processing/?status=1&order_status={order_status}&page_size=50",
                                 token=user["token"])
        assert body["code"] == 200, body
        return body["data"]["orders_list"]

    def create_order(self, user, sku_id, buy_num=1):
        """An unpaid order (buy now, the buyer's default address): the pay data."""
        status, body = self.call("GET", f"/v1/orders/processing/?status=0&settlement_type=1&sku_id={sku_id}"
                                        f"&buy_num={buy_num}", token=user["token"])
        assert body["code"] == 200, body
        address_id = body["data"]["addresses"][0]["id"]
        status, body = self.call("POST", "/v1/orders/processing/", {
            "status": 0, "address_id": address_id, "settlement_type": 1, "sku_id": sku_id, "buy_num": buy_num},
            token=user["token"], headers={"Idempotency-Key": uuid.uuid4().hex})
        assert body["code"] == 200, body
        return body["data"]

    def paid_order(self, user, sku_id, buy_num=1):
        """An order paid at the sandbox and confirmed by its notify (status 2, awaiting shipment): its id."""
        pay = self.create_order(user, sku_id, buy_num)
        order_id = pay["order_id"]
        status, _ = http("GET", pay["pay_url"])  # the cashier opens (the trade exists at Alipay from now on)
        assert status == 200, status
        self.sandbox_pay(order_id)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if {o["order_id"]: o["status"] for o in self.orders(user)}.get(order_id) == 2:
                return order_id
            time.sleep(0.2)
        raise AssertionError(f"order {order_id} was paid at the sandbox but never confirmed")

    def cancel_order(self, user, order_id):
        status, body = self.call("POST", "/v1/orders/processing/", {"status": 2, "order_id": order_id},
                                 token=user["token"])
        assert body["code"] == 200, body

    def cart(self, user):
        status, body = self.call("GET", f"/v1/carts/{user['username']}", token=user["token"])
        assert body["code"] == 200, body
        return {item["id"]: item for item in body["data"]}

    def addresses(self, user):
        status, body = self.call("GET", f"/v1/users/{user['username']}/address", token=user["token"])
        assert body["code"] == 200, body
        return body["data"]

    def ship(self, order_id):
        status, body = self.call("POST", f"/v1/admin/orders/{order_id}/ship", SHIPMENT,
                                 headers={"X-Admin-Key": ADMIN_KEY})
        assert status == 200 and body["code"] == 200, (status, body)

    # -- the Alipay sandbox
    def trade(self, out_trade_no):
        status, body = http("GET", f"{self.sandbox}/sandbox/api/trades/{out_trade_no}")
        assert status == 200, body
        return body

    def sandbox_pay(self, out_trade_no):
        """Pay without a browser (the cashier's 确认付款): the trade succeeds and its notify starts."""
        status, body = http("POST", f"{self.sandbox}/sandbox/api/pay", {"out_trade_no": out_trade_no})
        assert status == 200 and body["trade_status"] == "TRADE_SUCCESS", body
        return body

    def signed_return(self, out_trade_no):
        """The query string Alipay's redirect carries back for this trade, signed as the sandbox signs it."""
        from urllib.parse import quote_plus, urlencode

        from alipay import signer
        from alipay_sandbox import ALIPAY_PRIVATE_KEY_PATH, SELLER_ID
        trade = self.trade(out_trade_no)
        shanghai_now = datetime.now(timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M:%S")
        params = {"app_id": trade["app_id"], "auth_app_id": trade["app_id"], "charset": "utf-8",
                  "method": "alipay.trade.page.pay.return", "out_trade_no": out_trade_no, "seller_id": SELLER_ID,
                  "sign_type": "RSA2", "timestamp": shanghai_now,
                  "total_amount": trade["total_amount"], "trade_no": trade["trade_no"], "version": "1.0"}
        signed = signer.sign_callback(params, signer.load_private_key_file(ALIPAY_PRIVATE_KEY_PATH))
        return urlencode(signed, quote_via=quote_plus)

    # -- straight to the database, for what the API does not offer (a scarce SKU, a sell-out)
    def sql(self, statement, *args):
        target = config_module.parse_mysql_url(mysql_url_of(self.database))
        conn = pymysql.connect(host=target.host, port=target.port, user=target.user, password=target.password,
                               database=target.db, autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(statement, args)
                return cur.lastrowid
        finally:
            conn.close()

    def new_sku(self, name, *, price="88.00", stock=1, image="mouse_black.svg", attrs=(("颜色", "黑色"),)):
        spu_id = self.sql("INSERT INTO spu (name, caption) VALUES (%s, %s)", name, "端到端测试商品")
        sku_id = self.sql("INSERT INTO sku (spu_id, name, caption, price, stock, is_launched, default_image_url) "
                          "VALUES (%s, %s, %s, %s, %s, 1, %s)", spu_id, name, "端到端测试商品", Decimal(price), stock,
                          image)
        for sort, (attr, value) in enumerate(attrs):
            attr_id = self.sql("INSERT INTO spu_sale_attr (spu_id, name, sort) VALUES (%s, %s, %s)", spu_id, attr, sort)
            self.sql("INSERT INTO sale_attr_value (sku_id, spu_sale_attr_id, name) VALUES (%s, %s, %s)",
                     sku_id, attr_id, value)
        return sku_id

    def set_stock(self, sku_id, stock):
        self.sql("UPDATE sku SET stock=%s WHERE id=%s", stock, sku_id)

    def new_product(self, name, variants, *, category=None, caption="端到端测试商品"):
        """A product (SPU) with several SKUs: variants = [(price, stock, image, {attr: value, ...}), ...]
        (every variant names the same attributes, in order). Optionally in a catalog (category), made
        when missing. Returns (spu_id, [sku ids in the variants' order])."""
        catalog_id = None
        if category:
            catalog_id = self.sql("INSERT INTO catalog (name) VALUES (%s) "
                                  "ON DUPLICATE KEY UPDATE id=LAST_INSERT_ID(id)", category)
        spu_id = self.sql("INSERT INTO spu (name, caption, catalog_id) VALUES (%s, %s, %s)", name, caption, catalog_id)
        attr_ids = {}
        for sort, attr in enumerate(variants[0][3]):
            attr_ids[attr] = self.sql("INSERT INTO spu_sale_attr (spu_id, name, sort) VALUES (%s, %s, %s)",
                                      spu_id, attr, sort)
        sku_ids = []
        for price, stock, image, values in variants:
            sku_name = " ".join([name] + list(values.values()))
            sku_id = self.sql("INSERT INTO sku (spu_id, name, caption, price, stock, is_launched, default_image_url) "
                              "VALUES (%s, %s, %s, %s, %s, 1, %s)", spu_id, sku_name, caption, Decimal(price), stock,
                              image)
            for attr, value in values.items():
                self.sql("INSERT INTO sale_attr_value (sku_id, spu_sale_attr_id, name) VALUES (%s, %s, %s)",
                         sku_id, attr_ids[attr], value)
            sku_ids.append(sku_id)
        return spu_id, sku_ids

    def flash_sale(self, sku_id, *, starts_in, lasts=timedelta(hours=1), limit=None):
        """Give an SKU a sale window starting `starts_in` from now (negative: already open) and a per-buyer
        limit. The database keeps UTC (as the service does)."""
        start = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0) + starts_in
        self.sql("UPDATE sku SET sale_start=%s, sale_end=%s, limit_per_buyer=%s WHERE id=%s",
                 start, start + lasts, limit, sku_id)


@pytest.fixture(scope="session")
def backend(service, e2e_database, sandbox):
    return Backend(service, e2e_database, sandbox)


# ---- the browser -----------------------------------------------------------------------------

class Shopper:
    """A browser session on the storefront, with the few verbs the tests need."""

    def __init__(self, driver, base, test_name):
        from selenium.webdriver.support.ui import WebDriverWait
        self.driver = driver
        self.base = base
        self.test_name = test_name
        self.wait = WebDriverWait(driver, WAIT, poll_frequency=0.1)

    def resize(self, size):
        """Desktop or phone: the window's size, and at phone width a phone's User-Agent (every request
        from here on, the pay link's included, says it comes from a phone)."""
        self.driver.set_window_size(*size)
        if size == PHONE:
            self.driver.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": PHONE_USER_AGENT})

    # navigation
    def open(self, path):
        self.driver.get(self.base + path)

    @property
    def url(self):
        return self.driver.current_url

    def log_in_with_token(self, user):
        """Skip the login page: what login.html stores after a successful login."""
        self.open("/static/login.html")
        self.driver.execute_script("localStorage.setItem('dashop_token', arguments[0]);"
                                   "localStorage.setItem('dashop_user', arguments[1]);",
                                   user["token"], user["username"])

    # finding and waiting
    def find(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def visible(self, css):
        """Wait until an element is displayed; return it."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        return self.wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)),
                               f"{css} not visible on {self.url}")

    def until(self, predicate, message):
        return self.wait.until(lambda _driver: predicate(), f"{message} (on {self.url})")

    def text_of(self, css):
        return self.visible(css).text

    def wait_text(self, css, expected):
        """Wait until the element's text contains `expected`; return the text."""
        def check():
            try:
                element = self.find(css)
                return element.is_displayed() and expected in element.text and element.text
            except Exception:
                return False
        return self.until(check, f"{css} never showed {expected!r}")

    def wait_url(self, fragment):
        return self.until(lambda: fragment in self.url, f"never reached a URL with {fragment!r}")

    def click(self, css):
        element = self.visible(css)
        self.until(lambda: element.is_enabled(), f"{css} stays disabled")
        element.click()
        return element

    def type(self, css, text):
        element = self.visible(css)
        element.clear()
        element.send_keys(text)

    # pictures
    def shot(self, name):
        SCREENSHOTS.mkdir(exist_ok=True)
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))

    def full_shot(self, name):
        """The whole page, also what lies below the fold (Chromium's DevTools capture)."""
        import base64
        SCREENSHOTS.mkdir(exist_ok=True)
        # sticky bars would be drawn where the viewport ended: lay them out in the flow for the picture
        self.driver.execute_script(
            "var s = document.createElement('style'); s.id = 'e2e-unstick';"
            "s.textContent = '#site-header, .checkout-bar { position: static !important; }';"
            "document.head.appendChild(s);")
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        picture = self.driver.execute_cdp_cmd("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 6000), "scale": 1}})
        self.driver.execute_script("document.getElementById('e2e-unstick').remove();")
        (SCREENSHOTS / f"{name}.png").write_bytes(base64.b64decode(picture["data"]))

    def axe_problems(self, impacts=("serious", "critical")):
        """axe-core (shipped inside the axe-core-python package: no network) on the page as it is now:
        the violations of the given impacts, as readable lines (empty = none)."""
        from axe_core_python.base import AXE_SCRIPT
        self.driver.execute_script(AXE_SCRIPT)
        results = self.driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(done, function (e) { done({error: String(e)}); });")
        assert "error" not in results, results
        return [f"{v['id']} ({v['impact']}): {v['help']} — " + "; ".join(n["target"][0] for n in v["nodes"][:5])
                for v in results["violations"] if v["impact"] in impacts]

    def horizontal_overflow(self):
        return self.driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture
def shopper(request, chromium, service):
    """A fresh headless Chromium (own profile) on the running service, desktop-sized."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    profile = tempfile.mkdtemp(prefix="dadashop-e2e-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    browser = Shopper(driver, service, request.node.name)
    try:
        yield browser
    finally:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            try:
                browser.shot(f"FAILED-{request.node.name}")
            except Exception:
                pass
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
