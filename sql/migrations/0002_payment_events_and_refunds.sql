-- What Alipay told us, and the refunds we owe: an operator can always answer "what did Alipay
-- tell us about this order" and "was the late payment given back".

-- Every notify, return and query answer that touched an order. A verified notify is stored once
-- per notify_id (resends only bump `repeats`); unverified ones keep notify_id NULL, so a forger
-- cannot take a real notify's place.
CREATE TABLE IF NOT EXISTS payment_event (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    source        VARCHAR(16)  NOT NULL,
    notify_id     VARCHAR(128) NULL,
    order_id      VARCHAR(64)  NULL,
    trade_no      VARCHAR(64)  NULL,
    trade_status  VARCHAR(32)  NULL,
    total_amount  VARCHAR(32)  NULL,
    verified      TINYINT(1)   NOT NULL,
    outcome       VARCHAR(32)  NOT NULL,
    params        TEXT         NOT NULL,
    repeats       INT UNSIGNED NOT NULL DEFAULT 0,
    received_time DATETIME(6)  NOT NULL,
    last_time     DATETIME(6)  NOT NULL,
    UNIQUE KEY uq_payment_event_notify (notify_id),
    KEY ix_payment_event_order (order_id, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A refund we owe (a payment that arrived for a closed order). out_request_no is stable, so a
-- retried refund is the same refund at Alipay.
CREATE TABLE IF NOT EXISTS refund (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id          VARCHAR(64)   NOT NULL,
    trade_no          VARCHAR(64)   NOT NULL,
    out_request_no    VARCHAR(64)   NOT NULL,
    amount            DECIMAL(10,2) NOT NULL,
    reason            VARCHAR(64)   NOT NULL,
    status            VARCHAR(16)   NOT NULL DEFAULT 'pending',
    attempts          INT UNSIGNED  NOT NULL DEFAULT 0,
    last_result       VARCHAR(255)  NULL,
    created_time      DATETIME(6)   NOT NULL,
    next_attempt_time DATETIME(6)   NOT NULL,
    done_time         DATETIME(6)   NULL,
    UNIQUE KEY uq_refund_request (out_request_no),
    KEY ix_refund_pending (status, next_attempt_time),
    CONSTRAINT ck_refund_amount CHECK (amount > 0),
    CONSTRAINT fk_refund_order FOREIGN KEY (order_id) REFERENCES order_info (order_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The reconciliation job asks Alipay about orders whose buyer opened the cashier.
CREATE INDEX IF NOT EXISTS ix_order_info_pay_started ON order_info (status, pay_started_time);
