-- Orders: creation, the status machine, listing.
-- Every status change is a conditional UPDATE: the affected-row count says who won.
-- Status numbers are store/status.py's (the contract's): named in a comment where they appear.

-- name: insert_order!
-- An order row as it is given (tests and tools that set up orders); create inserts its orders
-- with sql/fragments/insert_order_at_address_or_signal.sql inside its one statement.
INSERT INTO order_info (order_id, user_id, address_id, receiver, receiver_mobile, address, tag, status,
                        total_count, total_amount, freight, idempotency_key, created_time, pay_deadline)
VALUES (:order_id, :user_id, :address_id, :receiver, :receiver_mobile, :address, :tag, 1 /* awaiting payment */,
        :total_count, :total_amount, :freight, :idempotency_key, :created_time, :pay_deadline);

-- name: return_stock!
UPDATE sku SET stock = stock + :count, sales = sales - :count
WHERE id = :sku_id AND sales >= :count;

-- name: release_hold!
-- A closed order's units of a limited SKU no longer count against the buyer's limit.
UPDATE buyer_hold SET held = held - :count
WHERE user_id = :user_id AND sku_id = :sku_id AND held >= :count;

-- name: get_sku_stock$
SELECT stock FROM sku WHERE id = :sku_id;

-- name: get_orders_by_idempotency_keys
-- The orders made under any of these (buyer, idempotency key) pairs, in one query: the look-ups of
-- one turn of the event loop (store/batching.py). The unique key on the pair answers each.
SELECT order_id, user_id, idempotency_key, status, total_amount, pay_deadline
FROM order_info FORCE INDEX (uq_order_info_idempotency)
WHERE (user_id, idempotency_key) IN :pairs;

-- name: get_own_order^
SELECT order_id, user_id, status, total_amount, freight, pay_deadline, trade_no
FROM order_info WHERE order_id = :order_id AND user_id = :user_id;

-- name: get_order^
SELECT order_id, user_id, status, total_amount, freight, pay_deadline, trade_no, paid_time, closed_time,
       close_reason, pay_started_time
FROM order_info WHERE order_id = :order_id;

-- name: get_order_owner$
SELECT user_id FROM order_info WHERE order_id = :order_id;

-- name: get_order_lines
SELECT sku_id, count, price FROM order_goods WHERE order_id = :order_id ORDER BY sku_id;

-- name: count_orders$
SELECT COUNT(*) FROM order_info WHERE user_id = :user_id;

-- name: count_orders_in_status$
SELECT COUNT(*) FROM order_info WHERE user_id = :user_id AND status = :status;

-- name: list_orders_page_json
-- One page of the buyer's orders, newest first, each as the JSON its list shows
-- (sql/fragments/listed_order_json.sql), and the number of all the buyer's orders (in
-- `order_status`, or all when it is 0): one round trip for the whole page, and the JSON is built for
-- the page's orders only (the derived table is the page).
SELECT /*include listed_order_json*/ AS order_json, p.total
FROM (SELECT order_id, created_time, COUNT(*) OVER () AS total
      FROM order_info
      WHERE user_id = :user_id AND (:order_status = 0 OR status = :order_status)
      ORDER BY created_time DESC, order_id DESC
      LIMIT :limit OFFSET :offset) p
JOIN order_info o ON o.order_id = p.order_id
ORDER BY p.created_time DESC, p.order_id DESC;

-- name: list_all_orders_page
-- The merchant's view: every buyer's orders (in `status`, or all when it is 0), newest first, each
-- as the JSON of get_order_for_merchant, with the number of them counted by the same query (the
-- JSON is built for the page's orders only).
SELECT /*include merchant_order_json*/ AS order_json, p.total
FROM (SELECT order_id, created_time, COUNT(*) OVER () AS total
      FROM order_info
      WHERE (:status = 0 OR status = :status)
      ORDER BY created_time DESC, order_id DESC
      LIMIT :limit OFFSET :offset) p
JOIN order_info o ON o.order_id = p.order_id
JOIN user_profile u ON u.id = o.user_id
ORDER BY p.created_time DESC, p.order_id DESC;

-- name: count_all_orders$
SELECT COUNT(*) FROM order_info WHERE (:status = 0 OR status = :status);

-- name: get_order_for_merchant$
-- One order as the merchant sees it, as JSON (sql/fragments/merchant_order_json.sql); NULL if unknown.
SELECT /*include merchant_order_json*/
FROM order_info o JOIN user_profile u ON u.id = o.user_id
WHERE o.order_id = :order_id;

-- name: mark_received!
UPDATE order_info SET status = 4 /* completed */, received_time = :now
WHERE order_id = :order_id AND user_id = :user_id AND status = 3 /* awaiting receipt */;

-- name: mark_shipped!
UPDATE order_info SET status = 3 /* awaiting receipt */, shipped_time = :now, carrier = :carrier,
                      tracking_no = :tracking_no
WHERE order_id = :order_id AND status = 2 /* awaiting shipment */;

-- name: mark_closed!
-- 1 -> 5 (cancelled by the buyer, or unpaid past the deadline); the caller returns the stock
-- in the same transaction.
UPDATE order_info SET status = 5 /* closed */, closed_time = :now, close_reason = :reason
WHERE order_id = :order_id AND status = 1 /* awaiting payment */;

-- name: mark_paid!
-- 1 -> 2 on a verified Alipay statement of the right amount.
UPDATE order_info SET status = 2 /* awaiting shipment */, trade_no = :trade_no, paid_time = :paid_time
WHERE order_id = :order_id AND status = 1 /* awaiting payment */;

-- name: mark_pay_started!
UPDATE order_info SET pay_started_time = COALESCE(pay_started_time, :now)
WHERE order_id = :order_id AND status = 1 /* awaiting payment */;
