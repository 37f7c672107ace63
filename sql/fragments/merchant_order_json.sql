-- Not a query of its own: an order `o` of the buyer `u` (user_profile) as the merchant sees it, as
-- JSON: the buyer's view (listed_order_json) plus who bought it and every payment and shipping
-- fact, each there even when null. Times as there: Asia/Shanghai, `YYYY-MM-DD HH:MM:SS`.
JSON_SET(/*include listed_order_json*/,
         '$.user_id', o.user_id, '$.username', u.username, '$.trade_no', o.trade_no,
         '$.paid_time', LEFT(CAST(o.paid_time + INTERVAL 8 HOUR AS CHAR), 19),
         '$.shipped_time', LEFT(CAST(o.shipped_time + INTERVAL 8 HOUR AS CHAR), 19),
         '$.received_time', LEFT(CAST(o.received_time + INTERVAL 8 HOUR AS CHAR), 19),
         '$.closed_time', LEFT(CAST(o.closed_time + INTERVAL 8 HOUR AS CHAR), 19),
         '$.close_reason', o.close_reason,
         '$.pay_deadline', LEFT(CAST(o.pay_deadline + INTERVAL 8 HOUR AS CHAR), 19))
