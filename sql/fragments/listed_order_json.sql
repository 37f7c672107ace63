-- Not a query of its own: an order `o` (order_info) as the buyer's list shows it, as JSON — the
-- original page's fields, included where a query writes /*include listed_order_json*/ (the buyer's
-- page, and the merchant's views, which add their own fields to it). Built by MariaDB so that a
-- page costs the service no row parsing and no Python shaping (issue 13).
--   money: DECIMAL(10,2) as text, 2 places, exact (a line's total is price × count, still 2 places);
--   times: stored naive UTC, shown in Asia/Shanghai, which has been UTC+8 with no daylight saving
--     since 1991 (before any order): `+ INTERVAL 8 HOUR`, cut to `YYYY-MM-DD HH:MM:SS` as
--     store/clock.py's shanghai_time_text does;
--   lines by SKU id, each SKU's sale attributes in its SPU's order;
--   pay_deadline only while awaiting payment, paid_time once paid, logistics once shipped. These
--     are written as text in front of the object's other members: a time is digits, dashes,
--     colons and a space, nothing to escape, and logistics is a JSON_OBJECT. (JSON_MERGE_PATCH
--     would say it more plainly, but it parses and writes the whole order again: about a quarter more of
--     MariaDB's CPU for a page.)
CONCAT(
  '{',
  IF(o.status = 1 /* awaiting payment */,
     CONCAT('"pay_deadline": "', LEFT(CAST(o.pay_deadline + INTERVAL 8 HOUR AS CHAR), 19), '", '), ''),
  IF(o.paid_time IS NOT NULL,
     CONCAT('"paid_time": "', LEFT(CAST(o.paid_time + INTERVAL 8 HOUR AS CHAR), 19), '", '), ''),
  IF(o.carrier <> '',
     CONCAT('"logistics": ', JSON_OBJECT('carrier', o.carrier, 'tracking_no', o.tracking_no,
                                         'shipped_time', LEFT(CAST(o.shipped_time + INTERVAL 8 HOUR AS CHAR), 19)),
            ', '), ''),
  -- the object's other members: its text without the opening brace
  SUBSTRING(JSON_OBJECT(
    'order_id', o.order_id, 'order_total_count', o.total_count,
    'order_total_amount', CAST(o.total_amount AS CHAR), 'order_freight', CAST(o.freight AS CHAR),
    'status', o.status, 'order_time', LEFT(CAST(o.created_time + INTERVAL 8 HOUR AS CHAR), 19),
    'address', JSON_OBJECT('title', o.tag, 'address', o.address, 'mobile', o.receiver_mobile,
                           'receiver', o.receiver),
    'order_sku', IFNULL(
      (SELECT JSON_ARRAYAGG(JSON_OBJECT(
                'id', og.sku_id, 'name', sku.name, 'default_image_url', sku.default_image_url,
                'price', CAST(og.price AS CHAR), 'count', og.count,
                'total_amount', CAST(og.price * og.count AS CHAR),
                'sku_sale_attr_names', IFNULL(
                  (SELECT JSON_ARRAYAGG(a.name ORDER BY a.sort, a.id)
                   FROM sale_attr_value v JOIN spu_sale_attr a ON a.id = v.spu_sale_attr_id
                   WHERE v.sku_id = og.sku_id), JSON_ARRAY()),
                'sku_sale_attr_vals', IFNULL(
                  (SELECT JSON_ARRAYAGG(v.name ORDER BY a.sort, a.id)
                   FROM sale_attr_value v JOIN spu_sale_attr a ON a.id = v.spu_sale_attr_id
                   WHERE v.sku_id = og.sku_id), JSON_ARRAY())) ORDER BY og.sku_id)
       FROM order_goods og JOIN sku ON sku.id = og.sku_id
       WHERE og.order_id = o.order_id), JSON_ARRAY())), 2))
