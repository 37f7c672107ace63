"""The storefront's journeys for Locust, against any deployment (only its HTTP API, no database access):

    locust -f loadtest/locustfile.py --host https://shop.example.com        # live charts on http://127.0.0.1:8089
    locust -f loadtest/locustfile.py --host http://127.0.0.1:8000 --headless -u 50 -r 5 -t 2m --csv out/locust

Each simulated buyer registers (`POST /v1/users`, so one scrypt hash per buyer at start) and adds
an address, then loops over weighted tasks as a shopper would: browse the catalog and open SKUs,
put things in the cart, buy (confirm, then create the order from the cart), pay (the order's pay
link redirects to the Alipay cashier; when that cashier is the local Alipay sandbox the buyer pays
there and the sandbox notifies the service), and list their orders.

Paying is only ever done at the local sandbox (never at a host of alipay.com or alipaydev.com);
`--no-sandbox-pay` stops at the cashier. Answers with another business code than expected count
as failures under the request's name; sold out (50103, 30103 from the cart) is expected when buying.
"""
import math
import random
import time
import uuid
from urllib.parse import urlsplit

from locust import FastHttpUser, between, events, tag, task

ORDERS = "/v1/orders/processing/"
PAGE_SIZE = 20
SOLD_OUT = 50103
CART_SOLD_OUT = 30103  # the cart API's own code for "not enough stock" (the original cart page reads it)
EMPTY_CART = 50101


@events.init_command_line_parser.add_listener
def add_options(parser):
    parser.add_argument("--no-sandbox-pay", action="store_true", default=False,
                        help="follow the pay link to the cashier but do not pay there")


def is_sandbox_cashier(url):
    host = urlsplit(url).hostname or ""
    return not (host.endswith("alipay.com") or host.endswith("alipaydev.com"))


class Buyer(FastHttpUser):
    wait_time = between(0.5, 2.0)

    def api(self, method, path, name, *, expected=(200,), **kw):
        """One call to the service; the business `code` decides success. Returns (code, data) or (None, None)."""
        with self.client.request(method, path, name=name, headers=self.headers, catch_response=True, **kw) as answer:
            try:
                body = answer.json()
            except ValueError:
                answer.failure(f"HTTP {answer.status_code}, not JSON")
                return None, None
            code = body.get("code") if isinstance(body, dict) else None
            if code in expected:
                answer.success()
            else:
                answer.failure(f"code {code}: {body.get('errmsg', '') if isinstance(body, dict) else body}")
            return code, body.get("data") if isinstance(body, dict) else None

    def on_start(self):
        self.headers = {}
        self.username = "lc_" + uuid.uuid4().hex[:16]
        self.skus = []
        self.catalog_pages = 1  # learnt from the first page's `total`
        self.cart_filled = False
        password = "locust-" + uuid.uuid4().hex[:12]
        for _ in range(10):  # as a storefront does: 50110 (password hashing busy) means try again shortly
            code, data = self.api("POST", "/v1/users", "register", expected=(200, 50110),
                                  json={"uname": self.username, "password": password})
            if code != 50110:
                break
            time.sleep(random.uniform(0.5, 1.5))
        if code != 200:
            raise RuntimeError(f"could not register {self.username}: code {code}")
        self.headers = {"authorization": data["token"]}
        address = {"receiver": "压测买家", "receiver_phone": "13600000000", "address": "北京市东城区珍贝大厦",
                   "postcode": "100010", "tag": "家"}
        code, data = self.api("POST", f"/v1/users/{self.username}/address", "/v1/users/[name]/address",
                              json=address)
        self.address_id = data["id"] if code == 200 else None
        self.browse()

    @task(4)
    def browse(self):
        page = random.randint(1, self.catalog_pages)
        code, data = self.api("GET", f"/v1/goods/skus?page={page}&page_size={PAGE_SIZE}", "/v1/goods/skus")
        if code == 200:
            self.catalog_pages = max(1, math.ceil(data["total"] / PAGE_SIZE))
            if data["skus"]:
                self.skus = [sku["id"] for sku in data["skus"]]
                self.api("GET", f"/v1/goods/skus/{random.choice(self.skus)}", "/v1/goods/skus/[id]")

    @task(2)
    def add_to_cart(self):
        if not self.skus:
            return
        code, _ = self.api("POST", f"/v1/carts/{self.username}", "/v1/carts/[name] add",
                           json={"sku_id": random.choice(self.skus), "count": 1}, expected=(200, CART_SOLD_OUT))
        self.cart_filled = self.cart_filled or code == 200

    @tag("buy")  # `--tags buy`: only this journey (after registering), e.g. for a quick check
    @task(1)
    def buy_and_pay(self):
        if not self.skus:
            self.browse()
        if not self.cart_filled:
            self.add_to_cart()
        if not self.cart_filled or not self.address_id:
            return
        self.api("GET", f"{ORDERS}?status=0&settlement_type=0", "confirm", expected=(200, SOLD_OUT, EMPTY_CART))
        code, data = self.api("POST", ORDERS, "create", expected=(200, SOLD_OUT, EMPTY_CART),
                              json={"status": 0, "address_id": self.address_id, "settlement_type": 0})
        if code != 200:
            self.cart_filled = code == SOLD_OUT  # sold out: the cart still holds it; empty: fill it again
            return
        self.cart_filled = False  # the order took the selected lines out of the cart
        self.pay(data["order_id"])

    def pay(self, order_id):
        code, data = self.api("POST", ORDERS, "pay", json={"status": 1, "order_id": order_id})
        if code != 200:
            return
        with self.client.get(data["pay_url"], name="pay link", allow_redirects=False,
                             catch_response=True) as answer:
            cashier = answer.headers.get("Location", "")
            if answer.status_code == 302 and cashier:
                answer.success()
            else:
                answer.failure(f"HTTP {answer.status_code}, no redirect to the cashier")
                return
        with self.client.get(cashier, name="cashier", catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")
                return
        if getattr(self.environment.parsed_options, "no_sandbox_pay", False) or not is_sandbox_cashier(cashier):
            return
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(cashier))
        with self.client.post(origin + "/sandbox/api/pay", name="pay at the sandbox", data={"out_trade_no": order_id},
                              catch_response=True) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}: {answer.text[:200]}")

    @task(2)
    def list_orders(self):
        self.api("GET", f"{ORDERS}?status=1&order_status=0&page=1&page_size=10", "list")
