"""The OpenAPI 3.1 document of the service (GET /openapi.json), built here beside the handlers it
describes, and the interactive page for it (GET /docs, Swagger UI served from local files).

Every answer is the contract's envelope: `code` 200 with `data`, or another code with `errmsg`
(and `error`, the same text, for the original pages). Business outcomes (501xx and the other
modules' codes) come with HTTP 200; the HTTP status says what went wrong with the request itself.
"""
import copy

import tornado.web
from openapi_ui_bundles import swagger_ui

from handlers.base import BaseHandler

SWAGGER_UI_DIR = str(swagger_ui.static_path)

BUSINESS_CODES = {
    200: "ok",
    403: "please log in (token missing, invalid or expired; HTTP 401) — or not yours (HTTP 403)",
    10101: "user name taken", 10102: "wrong user name or password",
    30101: "cart: unknown or off-shelf SKU", 30102: "cart: bad count", 30103: "cart: more than the stock",
    40050: "goods: no SKU with these sale attributes", 40300: "goods: no such SKU (HTTP 404)",
    50100: "the buyer has no shipping address (the items still come in data)",
    50101: "nothing to settle: empty selection, unknown/off-shelf SKU, bad buy_num",
    50102: "shipping address invalid", 50103: "stock insufficient (errmsg names the SKU)",
    50104: "no longer sent: a repeat of a submission in progress waits for it and gets its order",
    50105: "payment not confirmed (yet)",
    50106: "order not found (also someone else's)", 50107: "the order's status does not allow this",
    50108: "illegal access: a payment callback that does not verify (HTTP 400)",
    50109: "invalid parameters (HTTP 400; 413 when the body is too large)",
    50110: "too many requests (HTTP 429, Retry-After)",
    50111: "a dependency is unreachable or slow (HTTP 503, Retry-After)",
    50112: "the buyer's purchase limit for this SKU is reached",
    50113: "the SKU is not on sale at this moment (flash-sale window)",
}

MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["209.00"]}
TIME = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", "description": "Asia/Shanghai"}
OPTIONAL_TIME = {"type": ["string", "null"], "description": "Asia/Shanghai `YYYY-MM-DD HH:MM:SS`, or null"}
ORDER_ID = {"type": "string", "pattern": "^[A-Za-z0-9_]{1,64}$", "examples": ["2612011530000001"]}
ID = {"type": "integer", "minimum": 1}
STRINGS = {"type": "array", "items": {"type": "string"}}


def obj(required=(), **properties):
    return {"type": "object", "properties": properties, "required": list(required)}


SCHEMAS = {
    "Error": obj(["code", "errmsg"], code={"type": "integer", "not": {"const": 200}}, errmsg={"type": "string"},
                 error={"type": "string", "description": "the same text, for the original pages"},
                 data={}, request_id={"type": ["string", "null"]}),
    "Ok": obj(["code"], code={"const": 200}, data={}),
    "Token": obj(["code", "username", "data"], code={"const": 200}, username={"type": "string"},
                 data=obj(["token"], token={"type": "string"},
                          len={"type": "integer", "description": "items in the cart (login only)"})),
    "Address": obj(["id", "receiver", "receiver_mobile", "address", "is_default"], id=ID,
                   receiver={"type": "string"}, receiver_mobile={"type": "string"}, address={"type": "string"},
                   postcode={"type": "string"}, tag={"type": "string"}, is_default={"type": "boolean"}),
    "AddressInput": obj(["receiver", "receiver_phone", "address"],
                        receiver={"type": "string", "minLength": 1, "maxLength": 32},
                        receiver_phone={"type": "string", "pattern": r"^1\d{10}$"},
                        address={"type": "string", "minLength": 1, "maxLength": 255},
                        postcode={"type": ["string", "null"], "pattern": r"^(\d{6})?$"},
                        tag={"type": ["string", "null"], "maxLength": 16},
                        is_default={"description": "true, 1, \"1\" or \"true\" make it the default"}),
    "Sku": obj(["id", "name", "price", "stock"], id=ID, spu_id=ID, name={"type": "string"},
               caption={"type": "string"}, price=MONEY, stock={"type": "integer"}, sales={"type": "integer"},
               is_launched={"type": "boolean"}, default_image_url={"type": "string"},
               sku_sale_attr_names=STRINGS, sku_sale_attr_vals=STRINGS,
               limit_per_buyer={"type": ["integer", "null"]}, sale_start=OPTIONAL_TIME, sale_end=OPTIONAL_TIME),
    "ProductSummary": obj(["id", "name", "price_min", "price_max"], id=ID, name={"type": "string"},
                          caption={"type": "string"}, category={"type": "string"}, price_min=MONEY,
                          price_max=MONEY, stock={"type": "integer"}, default_image_url={"type": "string"}),
    "Product": obj(["id", "name", "sale_attrs", "skus"], id=ID, name={"type": "string"},
                   caption={"type": "string"}, category={"type": "string"},
                   sale_attrs={"type": "array", "items": obj(["name", "values"], name={"type": "string"},
                                                             values=STRINGS)},
                   skus={"type": "array", "items": {"$ref": "#/components/schemas/Sku"}}),
    "CartLine": obj(["id", "count", "selected"], id=ID, name={"type": "string"}, count={"type": "integer"},
                    selected={"type": "integer", "enum": [0, 1]}, default_image_url={"type": "string"},
                    price=MONEY, stock={"type": "integer"}, is_launched={"type": "boolean"},
                    sku_sale_attr_name=STRINGS, sku_sale_attr_val=STRINGS),
    "OrderLine": obj(["id", "name", "price", "count", "total_amount"], id=ID, name={"type": "string"},
                     default_image_url={"type": "string"}, price=MONEY, count={"type": "integer"},
                     total_amount=MONEY, sku_sale_attr_names=STRINGS, sku_sale_attr_vals=STRINGS),
    "Confirmation": obj(["addresses", "sku_list", "total_count", "total_amount", "transit", "payment_amount"],
                        addresses={"type": "array", "items": obj(
                            ["id", "name", "mobile", "address", "is_default"], id=ID, name={"type": "string"},
                            mobile={"type": "string"}, title={"type": "string"}, address={"type": "string"},
                            is_default={"type": "boolean"})},
                        sku_list={"type": "array", "items": {"$ref": "#/components/schemas/OrderLine"}},
                        total_count={"type": "integer"}, total_amount=MONEY, transit=MONEY, payment_amount=MONEY),
    "PayData": obj(["saller", "total_amount", "order_id", "pay_url", "pay_deadline"], saller={"type": "string"},
                   total_amount=MONEY, order_id=ORDER_ID,
                   pay_url={"type": "string", "description": "our signed link; it redirects to the Alipay cashier"},
                   pay_deadline=TIME),
    "ListedOrder": obj(["order_id", "order_total_count", "order_total_amount", "order_freight", "status",
                        "order_time", "address", "order_sku"],
                       order_id=ORDER_ID, order_total_count={"type": "integer"}, order_total_amount=MONEY,
                       order_freight=MONEY, status={"type": "integer", "minimum": 1, "maximum": 5},
                       order_time=TIME, pay_deadline=TIME, paid_time=TIME,
                       address=obj(["address", "receiver"], title={"type": "string"}, address={"type": "string"},
                                   mobile={"type": "string"}, receiver={"type": "string"}),
                       order_sku={"type": "array", "items": {"$ref": "#/components/schemas/OrderLine"}},
                       logistics=obj(["carrier", "tracking_no"], carrier={"type": "string"},
                                     tracking_no={"type": "string"}, shipped_time=OPTIONAL_TIME)),
}


def envelope(data_schema=None, **extra) -> dict:
    """A success answer: code 200 and `data` of this schema (plus top-level `extra` fields)."""
    properties = {"code": {"const": 200}, **extra}
    required = ["code"]
    if data_schema is not None:
        properties["data"] = data_schema
        required.append("data")
    return {"type": "object", "properties": properties, "required": required}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def page_of(items_name, item_schema, **extra):
    return obj([items_name, "total", "page", "page_size"], **{items_name: {"type": "array", "items": item_schema}},
               total={"type": "integer"}, page={"type": "integer"}, page_size={"type": "integer"}, **extra)


def answers(success=None, *codes, http=(), description="ok") -> dict:
    """The responses of an operation: HTTP 200 with the success schema or a business error of `codes`,
    and the listed HTTP errors (each with the error envelope)."""
    business = ", ".join(f"`{c}` {BUSINESS_CODES[c]}" for c in codes) or "none"
    ok_schema = success if success is not None else ref("Ok")
    responses = {"200": {"description": f"{description}. Business outcomes: {business}",
                         "content": {"application/json": {"schema": {"anyOf": [ok_schema, ref("Error")]}}}}}
    default_http = {400: "malformed request (50109)", 404: "unknown URL", 405: "wrong method",
                    413: "body too large (50109)", 429: "too many requests (50110)",
                    503: "a dependency is unreachable or slow (50111)"}
    for status in sorted(set(http) | {400, 404, 405, 413, 429, 503}):
        text = {401: "please log in (code 403)", 403: "not yours / not allowed (code 403)"}.get(
            status, default_http.get(status, "error"))
        responses[str(status)] = {"description": text,
                                  "content": {"application/json": {"schema": ref("Error")}}}
    return responses


def json_body(schema, required=True):
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def query(name, schema, required=False, description=None):
    parameter = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def path_param(name, schema):
    return {"name": name, "in": "path", "required": True, "schema": schema}


USERNAME = path_param("username", {"type": "string", "pattern": "^[A-Za-z0-9_]{1,32}$"})
PAGE = query("page", {"type": "integer", "minimum": 1, "maximum": 100000})
TOKEN = [{"token": []}]
ADMIN = [{"adminKey": []}]
IDEMPOTENCY_KEY = {"name": "Idempotency-Key", "in": "header", "required": False,
                   "schema": {"type": "string", "pattern": r"^[A-Za-z0-9_\-:.]{0,64}$"},
                   "description": "the same key of the same buyer is the same order (repeat safely)"}


def paths() -> dict:
    cart_answer = answers(envelope({"type": "array", "items": ref("CartLine")}), 30101, 30102, 30103, 50101,
                          http=(401, 403))
    processing_get = {
        "summary": "confirm (status=0), list (status=1) or confirm receipt (status=2) — the status parameter "
                   "picks the action",
        "security": TOKEN,
        "parameters": [
            query("status", {"type": "integer", "enum": [0, 1, 2]}, True),
            query("settlement_type", {"type": "integer", "enum": [0, 1]}, description="status=0: 0 cart, 1 buy-now"),
            query("sku_id", ID, description="status=0, buy-now"),
            query("buy_num", {"type": "integer", "minimum": 1, "maximum": 99}, description="status=0, buy-now"),
            query("order_status", {"type": "integer", "minimum": 0, "maximum": 5}, description="status=1; 0 = all"),
            PAGE, query("page_size", {"type": "integer", "minimum": 1, "maximum": 50}),
            query("order_id", ORDER_ID, description="status=2"),
        ],
        "responses": answers({"anyOf": [envelope(ref("Confirmation"), base_url={"type": "string"}),
                                        envelope(page_of("orders_list", ref("ListedOrder")),
                                                 base_url={"type": "string"}),
                                        envelope()]},
                             50100, 50101, 50103, 50106, 50107, 50113, http=(401,)),
    }
    processing_post = {
        "summary": "create (status=0), pay (status=1) or cancel (status=2) an order",
        "security": TOKEN,
        "parameters": [IDEMPOTENCY_KEY],
        "requestBody": json_body({"oneOf": [
            obj(["status", "address_id", "settlement_type"], status={"const": 0}, address_id=ID,
                settlement_type={"type": "integer", "enum": [0, 1]}, sku_id=ID,
                buy_num={"type": "integer", "minimum": 1, "maximum": 99},
                request_id={"type": ["string", "null"], "pattern": r"^[A-Za-z0-9_\-:.]{0,64}$"}),
            obj(["status", "order_id"], status={"enum": [1, 2]}, order_id=ORDER_ID),
        ]}),
        "responses": answers({"anyOf": [envelope(ref("PayData")), envelope()]},
                             50101, 50102, 50103, 50106, 50107, 50110, 50112, 50113, http=(401,)),
    }
    return {
        "/v1/users": {"post": {
            "summary": "register", "requestBody": json_body(obj(
                ["uname", "password"], uname={"type": "string", "pattern": "^[A-Za-z0-9_]{3,32}$"},
                password={"type": "string", "minLength": 6, "maxLength": 64},
                email={"type": ["string", "null"], "description": "optional; checked as an address when given"},
                phone={"type": ["string", "null"], "pattern": r"^(1\d{10})?$"})),
            "responses": answers(ref("Token"), 10101)}},
        "/v1/tokens": {"post": {
            "summary": "log in; `cart` (the original pages' offline cart) is merged into the buyer's cart",
            "requestBody": json_body(obj(["username", "password"], username={"type": "string"},
                                         password={"type": "string"},
                                         cart={"type": "array", "items": {"type": "object"}})),
            "responses": answers(ref("Token"), 10102)}},
        "/v1/users/{username}/address": {
            "parameters": [USERNAME],
            "get": {"summary": "the address book, default first", "security": TOKEN,
                    "responses": answers(envelope({"type": "array", "items": ref("Address")},
                                                  addresslist={"type": "array", "items": ref("Address")}),
                                         http=(401, 403))},
            "post": {"summary": "add an address (the first is the default)", "security": TOKEN,
                     "requestBody": json_body(ref("AddressInput")),
                     "responses": answers(envelope(ref("Address")), 50102, http=(401, 403))}},
        "/v1/users/{username}/address/{address_id}": {
            "parameters": [USERNAME, path_param("address_id", {"type": "integer", "minimum": 0})],
            "put": {"summary": "with address fields: edit it; without: make it the default", "security": TOKEN,
                    "requestBody": json_body({"anyOf": [ref("AddressInput"), obj()]}, required=False),
                    "responses": answers({"anyOf": [envelope(ref("Address")), envelope()]}, 50102,
                                         http=(401, 403))},
            "delete": {"summary": "delete (orders keep their snapshot)", "security": TOKEN,
                       "responses": answers(None, 50102, http=(401, 403))}},
        "/v1/goods/skus": {"get": {
            "summary": "SKUs on sale, by id",
            "parameters": [PAGE, query("page_size", {"type": "integer", "minimum": 1, "maximum": 50})],
            "responses": answers(envelope(page_of("skus", ref("Sku")), base_url={"type": "string"}))}},
        "/v1/goods/skus/{sku_id}": {"get": {
            "summary": "one SKU on sale", "parameters": [path_param("sku_id", ID)],
            "responses": answers(envelope(ref("Sku"), base_url={"type": "string"}), http=(404,))}},
        "/v1/goods/spus": {"get": {
            "summary": "products (one entry per SPU) with price ranges; search and category filter",
            "parameters": [PAGE, query("page_size", {"type": "integer", "minimum": 1, "maximum": 50}),
                           query("q", {"type": "string", "maxLength": 32}),
                           query("category", {"type": "string", "maxLength": 32})],
            "responses": answers(envelope(page_of("spus", ref("ProductSummary"), categories={
                "type": "array", "items": obj(["name", "products"], name={"type": "string"},
                                              products={"type": "integer"})}), base_url={"type": "string"}))}},
        "/v1/goods/spus/{spu_id}": {"get": {
            "summary": "a product with its sale attributes and every SKU", "parameters": [path_param("spu_id", ID)],
            "responses": answers(envelope(ref("Product"), base_url={"type": "string"}), http=(404,))}},
        "/v1/goods/index": {"get": {
            "summary": "the original home page: each catalog with its first SKUs",
            "responses": answers(envelope({"type": "array", "items": {"type": "object"}},
                                          base_url={"type": "string"}))}},
        "/v1/goods/detail/{sku_id}": {"get": {
            "summary": "the original product page", "parameters": [path_param("sku_id", ID)],
            "responses": answers(envelope({"type": "object"}, base_url={"type": "string"}), 40300, http=(404,))}},
        "/v1/goods/sku": {"post": {
            "summary": "the original selector: {spuid, <attr id>: <value id>...} → the SKU id",
            "requestBody": json_body({"type": "object", "required": ["spuid"]}),
            "responses": answers(envelope({"type": "integer"}), 40050)}},
        "/v1/carts/{username}": {
            "parameters": [USERNAME],
            "get": {"summary": "the cart", "security": TOKEN, "responses": cart_answer},
            "post": {"summary": "add {sku_id, count}", "security": TOKEN,
                     "requestBody": json_body(obj(["sku_id", "count"], sku_id=ID,
                                                  count={"type": "integer", "minimum": 1, "maximum": 99})),
                     "responses": cart_answer},
            "put": {"summary": "add/del one, select/unselect one or all", "security": TOKEN,
                    "requestBody": json_body(obj(["state"], state={"enum": ["add", "del", "select", "unselect",
                                                                            "selectall", "unselectall"]},
                                                 sku_id={"type": "integer", "description": "not for *all"})),
                    "responses": cart_answer},
            "delete": {"summary": "remove {sku_id}", "security": TOKEN,
                       "requestBody": json_body(obj(["sku_id"], sku_id=ID)), "responses": cart_answer}},
        "/v1/orders/processing/": {"get": processing_get, "post": processing_post},
        "/v1/orders/success/": {
            "get": {"summary": "the buyer's return from the Alipay cashier (Alipay's signed parameters, untouched)",
                    "parameters": [query("out_trade_no", {"type": "string"}), query("sign", {"type": "string"})],
                    "responses": answers(envelope(obj(["order_id", "total_amount"], order_id=ORDER_ID,
                                                      total_amount=MONEY)), 50105, 50106, 50108)},
            "post": {"summary": "Alipay's asynchronous notify; answers the plain text `success` or `fail`",
                     "requestBody": {"required": False, "content": {"application/x-www-form-urlencoded": {
                         "schema": {"type": "object", "additionalProperties": {"type": "string"}}}}},
                     "responses": {"200": {"description": "`success` once applied (or a resend), `fail` otherwise",
                                           "content": {"text/plain": {"schema": {"enum": ["success", "fail"]}}}},
                                   "413": {"description": "body too large",
                                           "content": {"application/json": {"schema": ref("Error")}}},
                                   "429": {"description": "too many unverified callbacks",
                                           "content": {"application/json": {"schema": ref("Error")}}},
                                   "503": {"description": "a dependency is unreachable; Alipay resends",
                                           "content": {"application/json": {"schema": ref("Error")}}}}}},
        "/v1/orders/{order_id}/alipay": {"get": {
            "summary": "the pay link: redirects to the Alipay cashier (wap pay on phones) while the order can be paid",
            "parameters": [path_param("order_id", ORDER_ID), query("sig", {"type": "string"}, True)],
            "responses": {"302": {"description": "to the cashier, or to my orders when no longer payable"},
                          "404": {"description": "a forged link (50106)",
                                  "content": {"application/json": {"schema": ref("Error")}}},
                          "503": {"description": "a dependency is unreachable",
                                  "content": {"application/json": {"schema": ref("Error")}}}}}},
        "/healthz": {"get": {
            "summary": "the process is alive (touches no dependency)",
            "responses": {"200": {"description": "alive", "content": {"application/json": {"schema": envelope(
                obj(["status"], status={"const": "alive"}))}}}}}},
        "/readyz": {"get": {
            "summary": "ready to serve: MariaDB and Redis answer and the process is not draining",
            "responses": {"200": {"description": "ready", "content": {"application/json": {"schema": envelope(
                {"type": "object"})}}},
                "503": {"description": "not ready (50111): draining, or a dependency does not answer",
                        "content": {"application/json": {"schema": ref("Error")}}}}}},
        "/metrics": {"get": {
            "summary": "Prometheus metrics of every worker (loopback clients only unless DADASHOP_METRICS_PUBLIC)",
            "responses": {"200": {"description": "the text exposition format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}},
                          "403": {"description": "not a loopback client",
                                  "content": {"application/json": {"schema": ref("Error")}}},
                          "404": {"description": "metrics are not set up in this process",
                                  "content": {"application/json": {"schema": ref("Error")}}}}}},
        "/v1/admin/orders": {"get": {
            "summary": "merchant: every buyer's orders, newest first", "security": ADMIN,
            "parameters": [query("status", {"type": "integer", "minimum": 0, "maximum": 5}), PAGE,
                           query("page_size", {"type": "integer", "minimum": 1, "maximum": 100})],
            "responses": answers(envelope(page_of("orders", {"type": "object"})), http=(401, 403))}},
        "/v1/admin/orders/{order_id}": {"get": {
            "summary": "merchant: one order with its payment events and refunds", "security": ADMIN,
            "parameters": [path_param("order_id", ORDER_ID)],
            "responses": answers(envelope({"type": "object"}), 50106, http=(401, 403))}},
        "/v1/admin/orders/{order_id}/ship": {"post": {
            "summary": "merchant ships a paid order (2 → 3)", "security": ADMIN,
            "parameters": [path_param("order_id", ORDER_ID)],
            "requestBody": json_body(obj(["carrier", "tracking_no"],
                                         carrier={"type": "string", "minLength": 1, "maxLength": 32},
                                         tracking_no={"type": "string", "minLength": 1, "maxLength": 64})),
            "responses": answers(envelope({"type": "object"}), 50106, 50107, http=(401, 403))}},
    }


def document(config) -> dict:
    """The OpenAPI 3.1 document for a deployment at `config.base_url`."""
    codes = "\n".join(f"| {code} | {text} |" for code, text in BUSINESS_CODES.items())
    return {
        "openapi": "3.1.0",
        "info": {"title": "dadashop orders", "version": "2",
                 "description": "The order and payment service of the dadashop store. Every JSON answer "
                                "carries `code`: 200 with `data`, or a business code with `errmsg`.\n\n"
                                "| code | meaning |\n|---|---|\n" + codes},
        "servers": [{"url": config.base_url}],
        "paths": paths(),
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "authorization",
                          "description": "the login token as it is (a `Bearer ` prefix is accepted)"},
                "adminKey": {"type": "apiKey", "in": "header", "name": "X-Admin-Key"}},
        },
    }


class OpenApiHandler(BaseHandler):
    def get(self):
        self.finish(document(self.config))


DOCS_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>dadashop orders API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});</script>
</body></html>
"""


class DocsHandler(tornado.web.RequestHandler):
    """The interactive page: Swagger UI from the installed package, no network."""

    def get(self):
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(DOCS_PAGE)
