"""Response shapes, in one place: what the store's plain data looks like to the contract's clients
(field names of the original dadashop pages, money as 2-place strings, times in Shanghai time)."""
import json

from handlers.urls import pay_link
from store.clock import shanghai_time_text
from store.money import money

SELLER_NAME = "达达商城"


def dumps(payload) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


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
    }


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


def order_page(page) -> dict:
    """GET status=1: one page of the buyer's orders."""
    return {
        "orders_list": [{
            "order_id": o["order_id"], "order_total_count": o["total_count"],
            "order_total_amount": money(o["total_amount"]), "order_freight": money(o["freight"]),
            "status": o["status"], "order_time": shanghai_time_text(o["created_time"]),
            "address": {"title": o["tag"], "address": o["address"], "mobile": o["receiver_mobile"],
                        "receiver": o["receiver"]},
            "order_sku": [order_line(li["sku_id"], li["name"], li["image"], li["price"], li["count"],
                                     li["attr_names"], li["attr_vals"]) for li in o["lines"]],
        } for o in page["orders"]],
        "total": page["total"], "page": page["page"], "page_size": page["page_size"],
    }


def pay_data(config, order) -> dict:
    """The answer of create (POST 0) and pay (POST 1): always the order's stored total."""
    return {"saller": SELLER_NAME, "total_amount": money(order["total_amount"]), "order_id": order["order_id"],
            "pay_url": pay_link(config, order["order_id"])}


def payment_subject(order_id) -> str:
    """What the Alipay cashier shows as the purchase."""
    return f"{SELLER_NAME}订单 {order_id}"
