-- Payments: what Alipay told us, and refunds.

-- name: lock_order^
-- Serialises everything that decides an order's payment fate (notify, query, timeout close).
SELECT order_id, user_id, status, total_amount, trade_no
FROM order_info WHERE order_id = :order_id FOR UPDATE;

-- name: record_event!
INSERT INTO payment_event (source, notify_id, order_id, trade_no, trade_status, total_amount, verified, outcome,
                           params, received_time, last_time)
VALUES (:source, :notify_id, :order_id, :trade_no, :trade_status, :total_amount, :verified, :outcome,
        :params, :now, :now);

-- name: get_event_by_notify_id^
SELECT id, outcome FROM payment_event WHERE notify_id = :notify_id;

-- name: count_repeat!
UPDATE payment_event SET repeats = repeats + 1, last_time = :now WHERE notify_id = :notify_id;

-- name: events_of_order
SELECT id, source, notify_id, trade_no, trade_status, total_amount, verified, outcome, repeats, received_time,
       last_time
FROM payment_event WHERE order_id = :order_id ORDER BY id;

-- name: refunds_of_order
SELECT id, out_request_no, amount, reason, status, attempts, last_result, created_time, done_time
FROM refund WHERE order_id = :order_id ORDER BY id;

-- name: add_refund!
-- INSERT IGNORE: the same late payment seen twice (a resent notify) owes one refund.
INSERT IGNORE INTO refund (order_id, trade_no, out_request_no, amount, reason, created_time, next_attempt_time)
VALUES (:order_id, :trade_no, :out_request_no, :amount, :reason, :now, :now);

-- name: count_pending_refunds$
SELECT COUNT(*) FROM refund WHERE status = 'pending';

-- name: due_refunds
SELECT id, order_id, trade_no, out_request_no, amount, reason, attempts
FROM refund
WHERE status = 'pending' AND next_attempt_time <= :now
ORDER BY next_attempt_time
LIMIT :limit;

-- name: claim_refund!
-- 1 row: this process sends the refund now (its next attempt is moved to the end of the lease);
-- 0: another process claimed it first, or it is done.
UPDATE refund SET next_attempt_time = :lease_until
WHERE id = :refund_id AND status = 'pending' AND next_attempt_time <= :now;

-- name: finish_refund!
UPDATE refund SET status = 'done', attempts = attempts + 1, last_result = :result, done_time = :now
WHERE id = :refund_id AND status = 'pending';

-- name: postpone_refund!
UPDATE refund SET attempts = attempts + 1, last_result = :result, next_attempt_time = :next_attempt_time
WHERE id = :refund_id AND status = 'pending';

-- name: overdue_orders
-- Unpaid past the deadline: the timeout job closes them (after asking Alipay).
SELECT order_id, total_amount, pay_deadline
FROM order_info
WHERE status = 1 /* awaiting payment */ AND pay_deadline <= :now
ORDER BY pay_deadline
LIMIT :limit;

-- name: orders_at_the_cashier
-- Still awaiting payment though the buyer went to pay a while ago: maybe a notify got lost.
-- Each is asked about again only after :checked_before.
SELECT order_id, total_amount
FROM order_info
WHERE status = 1 /* awaiting payment */ AND pay_started_time IS NOT NULL AND pay_started_time <= :started_before
  AND pay_deadline > :now AND (reconciled_time IS NULL OR reconciled_time <= :checked_before)
ORDER BY pay_started_time
LIMIT :limit;

-- name: claim_reconcile!
-- 1 row: this process asks Alipay about the order now; 0: another one just did, or it is settled.
UPDATE order_info SET reconciled_time = :now
WHERE order_id = :order_id AND status = 1 /* awaiting payment */
  AND (reconciled_time IS NULL OR reconciled_time <= :checked_before);
