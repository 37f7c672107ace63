-- The store's tables. Money is DECIMAL(10,2); counts are UNSIGNED with CHECKs so that stock and
-- sales can never go negative, whatever a query does. Times are UTC.

CREATE TABLE IF NOT EXISTS user_profile (
    id            INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    username      VARCHAR(32)  NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    email         VARCHAR(128) NOT NULL DEFAULT '',
    phone         VARCHAR(16)  NOT NULL DEFAULT '',
    created_time  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    UNIQUE KEY uq_user_profile_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS address (
    id              INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    user_id         INT UNSIGNED NOT NULL,
    receiver        VARCHAR(32)  NOT NULL,
    receiver_mobile VARCHAR(16)  NOT NULL,
    address         VARCHAR(255) NOT NULL,
    postcode        VARCHAR(10)  NOT NULL DEFAULT '',
    tag             VARCHAR(16)  NOT NULL DEFAULT '',
    is_default      TINYINT(1)   NOT NULL DEFAULT 0,
    is_alive        TINYINT(1)   NOT NULL DEFAULT 1,
    created_time    DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_address_user (user_id, is_alive, is_default),
    CONSTRAINT fk_address_user FOREIGN KEY (user_id) REFERENCES user_profile (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS spu (
    id           INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name         VARCHAR(64)  NOT NULL,
    caption      VARCHAR(255) NOT NULL DEFAULT '',
    created_time DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- A sale attribute of an SPU, e.g. 颜色 or 尺寸; `sort` orders them on a page.
CREATE TABLE IF NOT EXISTS spu_sale_attr (
    id     INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    spu_id INT UNSIGNED NOT NULL,
    name   VARCHAR(32)  NOT NULL,
    sort   SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    UNIQUE KEY uq_spu_sale_attr (spu_id, name),
    CONSTRAINT fk_spu_sale_attr_spu FOREIGN KEY (spu_id) REFERENCES spu (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS sku (
    id                INT UNSIGNED  NOT NULL AUTO_INCREMENT PRIMARY KEY,
    spu_id            INT UNSIGNED  NOT NULL,
    name              VARCHAR(64)   NOT NULL,
    caption           VARCHAR(255)  NOT NULL DEFAULT '',
    price             DECIMAL(10,2) NOT NULL,
    stock             INT UNSIGNED  NOT NULL DEFAULT 0,
    sales             INT UNSIGNED  NOT NULL DEFAULT 0,
    is_launched       TINYINT(1)    NOT NULL DEFAULT 1,
    default_image_url VARCHAR(255)  NOT NULL DEFAULT '',
    created_time      DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY ix_sku_spu (spu_id),
    KEY ix_sku_launched (is_launched, id),
    CONSTRAINT ck_sku_price CHECK (price > 0),
    CONSTRAINT ck_sku_stock CHECK (stock >= 0),
    CONSTRAINT ck_sku_sales CHECK (sales >= 0),
    CONSTRAINT fk_sku_spu FOREIGN KEY (spu_id) REFERENCES spu (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The value an SKU has for one sale attribute of its SPU (e.g. sku 4: 颜色=红色).
CREATE TABLE IF NOT EXISTS sale_attr_value (
    id               INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku_id           INT UNSIGNED NOT NULL,
    spu_sale_attr_id INT UNSIGNED NOT NULL,
    name             VARCHAR(32)  NOT NULL,
    UNIQUE KEY uq_sale_attr_value (sku_id, spu_sale_attr_id),
    CONSTRAINT fk_sale_attr_value_sku FOREIGN KEY (sku_id) REFERENCES sku (id),
    CONSTRAINT fk_sale_attr_value_attr FOREIGN KEY (spu_sale_attr_id) REFERENCES spu_sale_attr (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One order. total_amount is what the buyer pays (goods + freight). The shipping address is a
-- snapshot: later edits of the address book do not rewrite history.
CREATE TABLE IF NOT EXISTS order_info (
    id               BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id         VARCHAR(64)   NOT NULL,
    user_id          INT UNSIGNED  NOT NULL,
    address_id       INT UNSIGNED  NULL,
    receiver         VARCHAR(32)   NOT NULL,
    receiver_mobile  VARCHAR(16)   NOT NULL,
    address          VARCHAR(255)  NOT NULL,
    tag              VARCHAR(16)   NOT NULL DEFAULT '',
    status           TINYINT UNSIGNED NOT NULL DEFAULT 1,
    total_count      INT UNSIGNED  NOT NULL,
    total_amount     DECIMAL(10,2) NOT NULL,
    freight          DECIMAL(10,2) NOT NULL,
    pay_method       TINYINT UNSIGNED NOT NULL DEFAULT 1,
    -- the client's Idempotency-Key / request_id: the same key of one buyer is one order
    idempotency_key  VARCHAR(64)   NULL,
    trade_no         VARCHAR(64)   NULL,
    created_time     DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    pay_deadline     DATETIME(6)   NOT NULL,
    pay_started_time DATETIME(6)   NULL,
    paid_time        DATETIME(6)   NULL,
    shipped_time     DATETIME(6)   NULL,
    received_time    DATETIME(6)   NULL,
    closed_time      DATETIME(6)   NULL,
    close_reason     VARCHAR(16)   NULL,
    UNIQUE KEY uq_order_info_order_id (order_id),
    UNIQUE KEY uq_order_info_idempotency (user_id, idempotency_key),
    UNIQUE KEY uq_order_info_trade_no (trade_no),
    KEY ix_order_info_user (user_id, id),
    KEY ix_order_info_user_status (user_id, status, id),
    KEY ix_order_info_status_deadline (status, pay_deadline),
    CONSTRAINT ck_order_info_status CHECK (status BETWEEN 1 AND 5),
    CONSTRAINT ck_order_info_amount CHECK (total_amount >= 0 AND freight >= 0),
    CONSTRAINT fk_order_info_user FOREIGN KEY (user_id) REFERENCES user_profile (id),
    CONSTRAINT fk_order_info_address FOREIGN KEY (address_id) REFERENCES address (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- One line of an order, at the price paid.
CREATE TABLE IF NOT EXISTS order_goods (
    id       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    order_id VARCHAR(64)   NOT NULL,
    sku_id   INT UNSIGNED  NOT NULL,
    count    INT UNSIGNED  NOT NULL,
    price    DECIMAL(10,2) NOT NULL,
    UNIQUE KEY uq_order_goods_line (order_id, sku_id),
    KEY ix_order_goods_sku (sku_id),
    CONSTRAINT ck_order_goods_count CHECK (count > 0),
    CONSTRAINT fk_order_goods_order FOREIGN KEY (order_id) REFERENCES order_info (order_id),
    CONSTRAINT fk_order_goods_sku FOREIGN KEY (sku_id) REFERENCES sku (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
