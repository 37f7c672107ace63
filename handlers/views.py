"""Response shapes, in one place: what the store's plain data looks like to the contract's clients
(field names of the original dadashop pages, money as 2-place strings, times in Shanghai time)."""
import json

from handlers.urls import pay_link
from store.clock import shanghai_time_text
from store.money import money

SELLER_NAME = "达达商城"


# one encoder for every answer: json.dumps with other than its default options builds a new
# JSONEncoder on every call (a third of the cost of a small answer)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def dumps(payload) -> str:
    return _ENCODER.encode(payload)


def address(row) -> dict:
    """An address-book entry."""
    return {"id": row["id"], "receiver": row["receiver"], "receiver_mobile": row["receiver_mobile"],
            "address": row["address"], "postcode": row["postcode"], "tag": row["tag"],
            "is_default": bool(row["is_default"])}


def address_for_confirm(row) -> dict:
    return {"id": row["id"], "name": row["receiver"], "mobile": row["receiver_mobile"], "title": row["tag"],
            "address": row["address"], "is_default": bool(row["is_default"])}


def sku(row) -> dict:
    """The catalog's public view of one SKU."""
    return {
        "id": row["id"], "spu_id": row["spu_id"], "name": row["name"], "caption": row["caption"],
        "price": money(row["price"]), "stock": row["stock"], "sales": row["sales"],
        "is_launched": bool(row.get("is_launched", 1)),
        "default_image_url": row["default_image_url"],
        "sku_sale_attr_names": row["attr_names"], "sku_sale_attr_vals": row["attr_vals"],
        # flash-sale rules (contract, "Additions"); null = none
        "limit_per_buyer": row.get("limit_per_buyer"),
        "sale_start": optional_time(row.get("sale_start")), "sale_end": optional_time(row.get("sale_end")),
    }


def optional_time(moment):
    return shanghai_time_text(moment) if moment is not None else None


def index_catalog(catalog) -> dict:
    """GET /v1/goods/index (the original home page): a catalog and its first SKUs."""
    return {"catalog_id": catalog["catalog_id"], "catalog_name": catalog["catalog_name"],
            "sku": [{"skuid": s["id"], "caption": s["caption"], "name": s["name"], "price": money(s["price"]),
                     "image": s["default_image_url"]} for s in catalog["skus"]]}


def sku_detail(d) -> dict:
    """GET /v1/goods/detail/<sku_id> (the original product page): the SKU, its catalog, and its SPU's
    sale attributes with every value on sale, by attribute id, for the page's selector."""
    attrs = d["attrs"]
    return {
        "skuid": d["id"], "spu": d["spu_id"], "name": d["name"], "caption": d["caption"],
        "price": money(d["price"]), "stock": d["stock"], "image": d["default_image_url"], "detail_image": "",
        "catalog_id": d["catalog_id"], "catalog_name": d["catalog_name"] or "",
        "sku_sale_attr_id": [a["id"] for a in attrs], "sku_sale_attr_names": [a["name"] for a in attrs],
        "sku_sale_attr_val_id": [a["chosen"][0] for a in attrs],
        "sku_sale_attr_val_names": [a["chosen"][1] for a in attrs],
        "sku_all_sale_attr_vals_id": {a["id"]: list(a["values"].values()) for a in attrs},
        "sku_all_sale_attr_vals_name": {a["id"]: list(a["values"]) for a in attrs},
        "spec": {},
    }


def cart(lines) -> list:
    """The cart's answer: one entry per (sku, item) line."""
    return [{"id": s["id"], "name": s["name"], "count": item["count"], "selected": item["selected"],
             "default_image_url": s["default_image_url"], "price": money(s["price"]), "stock": s["stock"],
             "is_launched": bool(s["is_launched"]), "sku_sale_attr_name": s["attr_names"],
             "sku_sale_attr_val": s["attr_vals"]}
            for s, item in lines]


def order_line(sku_id, name, image, price, count, attr_names, attr_vals) -> dict:
    return {"id": sku_id, "name": name, "default_image_url": image, "price": money(price), "count": count,
            "total_amount": money(price * count), "sku_sale_attr_names": attr_names,
            "sku_sale_attr_vals": attr_vals}


def confirmation(c) -> dict:
    """GET status=0: addresses, what would be ordered, and the totals."""
    return {"addresses": [address_for_confirm(a) for a in c.addresses],
            "sku_list": [order_line(li.sku_id, li.name, li.image, li.price, li.count, li.attr_names, li.attr_vals)
                         for li in c.lines],
            "total_count": c.totals.count, "total_amount": money(c.totals.goods),
            "transit": money(c.totals.freight), "payment_amount": money(c.totals.payment)}


# The orders of the buyer's and the merchant's lists are shaped by MariaDB, as JSON
# (sql/fragments/listed_order_json.sql and merchant_order_json.sql): a page costs no row parsing
# and no shaping here. The pages around them:

def order_page_json(page, orders_field="orders_list") -> str:
    """One page of orders as JSON text: the buyer's list (GET status=1, `orders_list`) or, with
    `orders_field="orders"`, the merchant's (GET /v1/admin/orders)."""
    return '{"%s":[%s],"total":%d,"page":%d,"page_size":%d}' % (
        orders_field, ",".join(page["orders"]), page["total"], page["page"], page["page_size"])


def merchant_order_detail(detail) -> dict:
    """One order as the merchant sees it, with what Alipay told us about it and its refunds."""
    entry = detail["order"]
    entry["payment_events"] = [{
        "id": e["id"], "source": e["source"], "notify_id": e["notify_id"], "trade_no": e["trade_no"],
        "trade_status": e["trade_status"], "total_amount": e["total_amount"], "verified": bool(e["verified"]),
        "outcome": e["outcome"], "repeats": e["repeats"], "received_time": shanghai_time_text(e["received_time"]),
        "last_time": shanghai_time_text(e["last_time"])} for e in detail["events"]]
    entry["refunds"] = [{
        "out_request_no": r["out_request_no"], "amount": money(r["amount"]), "reason": r["reason"],
        "status": r["status"], "attempts": r["attempts"], "last_result": r["last_result"],
        "created_time": shanghai_time_text(r["created_time"]), "done_time": optional_time(r["done_time"])}
        for r in detail["refunds"]]
    return entry


def pay_data(config, order) -> dict:
    """The answer of create (POST 0) and pay (POST 1): always the order's stored total, and the
    moment the order closes unpaid (so a page can count down)."""
    return {"saller": SELLER_NAME, "total_amount": money(order["total_amount"]), "order_id": order["order_id"],
            "pay_url": pay_link(config, order["order_id"]), "pay_deadline": shanghai_time_text(order["pay_deadline"])}


def payment_subject(order_id) -> str:
    """What the Alipay cashier shows as the purchase."""
    return f"{SELLER_NAME}订单 {order_id}"


def product_summary(row) -> dict:
    """One entry of the product list: a product (SPU) with the price range of its SKUs on sale."""
    return {"id": row["id"], "name": row["name"], "caption": row["caption"], "category": row["category"],
            "price_min": money(row["price_min"]), "price_max": money(row["price_max"]),
            "stock": int(row["stock"]), "default_image_url": row["default_image_url"]}


def product(p) -> dict:
    """A product page: its sale attributes and values, and every SKU with its values, so a page can
    offer a selector."""
    return {"id": p["id"], "name": p["name"], "caption": p["caption"], "category": p["category"],
            "sale_attrs": p["sale_attrs"], "skus": [sku(s) for s in p["skus"]]}
