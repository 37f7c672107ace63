/* payment.html: create the order (POST status 0 with the confirm page's Idempotency-Key) or, with
 * ?order_id=, pay an existing unpaid order (POST status 1); then straight on to the Alipay pay_url.
 *
 * Reload-safe: the key comes from the URL, so a reload repeats the same submission and the server
 * answers with the same order; once the order is known, it is remembered for this tab
 * (sessionStorage) and a reload only asks to pay that order.
 *
 * The page goes on to the cashier by itself once per order and tab. Coming back here (Back from the
 * cashier, a reload) shows the order as it now stands instead: awaiting payment with a button and
 * the time left, or — as good news, not as an error — paid, or closed. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;

  Shop.header("orders");
  if (!Shop.requireLogin()) { return; }

  var query = Shop.params();
  var key = query.get("key");
  var orderId = query.get("order_id");
  var payUrl = null;
  var stopClock = function () {};
  var MAX_IN_PROGRESS_RETRIES = 20;

  function stored(name) {
    try { return window.sessionStorage.getItem(name); } catch (e) { return null; }
  }
  function store(name, value) {
    try { window.sessionStorage.setItem(name, value); } catch (e) { /* private mode */ }
  }

  function remembered() { return key ? stored("dashop_order_" + key) : null; }
  function remember(id) { if (key) { store("dashop_order_" + key, id); } }

  function knownNames() {
    try { return JSON.parse(stored("dashop_names_" + key) || "{}"); } catch (e) { return {}; }
  }

  function stop(text, options) {
    $("#loading").hidden = true;
    Shop.notice(text);
    $("#after-error").hidden = false;
    if (options && options.backTo) { $("#back-cart").href = options.backTo; $("#back-cart").textContent = options.backLabel; }
  }

  /* A settled order: paid (good news) or closed (neutral), never an error. */
  function settled(kind, title, text) {
    $("#loading").hidden = true;
    $("#pay-details").hidden = true;
    stopClock();
    $("#settled").hidden = false;
    $("#settled").setAttribute("data-state", kind);
    $("#settled-icon").className = "result-icon " + (kind === "paid" ? "ok" : "wait");
    $("#settled-icon").textContent = kind === "paid" ? "✓" : "i";
    $("#settled-title").textContent = title;
    $("#settled-text").textContent = text;
    $("#after-error").hidden = false;
    $("#back-cart").href = "/static/index.html";
    $("#back-cart").textContent = "继续购物";
    $("#to-orders").className = "btn primary";
  }

  function expired() {
    $("#pay-btn").disabled = true;
    $("#pay-status").textContent = "支付时间已过，订单将自动关闭。";
  }

  function show(data) {
    $("#loading").hidden = true;
    remember(data.order_id);
    $("#order-id").textContent = data.order_id;
    $("#saller").textContent = data.saller;
    $("#total-amount").textContent = Shop.money(data.total_amount);
    payUrl = data.pay_url;
    $("#pay-details").hidden = false;
    stopClock();
    stopClock = Shop.countdown($("#countdown"), data.pay_deadline, expired);
    // straight on to the cashier, once: coming back here shows the order and a button instead
    if (!stored("dashop_went_" + data.order_id)) {
      store("dashop_went_" + data.order_id, "1");
      goPay();
    }
  }

  function goPay() {
    if (!payUrl) { return; }
    $("#pay-btn").disabled = true;
    $("#pay-btn").textContent = "正在前往支付宝…";
    window.location.href = payUrl;
  }

  /* 50107: the order is no longer awaiting payment. Say what it is, from the order list. */
  function noLongerPayable(id) {
    return Shop.findOrder(id).then(function (order) {
      var status = order ? order.status : 2;
      if (status === 5) {
        settled("closed", "订单已关闭", "订单 " + id + " 已取消或超时关闭，无需支付。如仍需要，请重新下单。");
      } else {
        settled("paid", "订单已支付", "订单 " + id + " 已支付成功" +
          (status === 2 ? "，商家将尽快为您发货。" : "。"));
      }
    });
  }

  function createBody() {
    var body = {status: 0, address_id: Number(query.get("address_id")),
                settlement_type: query.get("settlement_type") === "1" ? 1 : 0};
    if (body.settlement_type === 1) {
      body.sku_id = Number(query.get("sku_id"));
      body.buy_num = Number(query.get("buy_num") || 1);
    }
    return body;
  }

  function confirmUrl() {
    var params = new URLSearchParams({settlement_type: query.get("settlement_type") === "1" ? "1" : "0"});
    if (query.get("settlement_type") === "1") {
      params.set("sku_id", query.get("sku_id") || "");
      params.set("buy_num", query.get("buy_num") || "1");
    }
    return "/static/orderConfirm.html?" + params.toString();
  }

  function outcome(body, id) {
    switch (body.code) {
      case 200: show(body.data); return;
      case 50103:
        Shop.stockMessage(body, knownNames()).then(function (text) { stop(text); });
        return;
      case 50102:
        stop("收货地址无效，请返回重新选择收货地址", {backTo: confirmUrl(), backLabel: "返回确认订单"});
        return;
      case 50101: stop("没有可结算的商品：购物车中勾选的商品可能已经下单，请查看我的订单"); return;
      case 50106: stop("订单不存在，请到我的订单中查看"); return;
      case 50107:
        if (id) { noLongerPayable(id).catch(Shop.failed); return; }
        stop(Shop.message(body)); return;
      default: stop(Shop.message(body, "订单提交失败，请稍后重试"));
    }
  }

  function create(attempt) {
    return Shop.api("POST", "/v1/orders/processing/", {body: createBody(), headers: {"Idempotency-Key": key}})
      .then(function (body) {
        if (body.code === 50104 && attempt < MAX_IN_PROGRESS_RETRIES) {
          // the same submission is still being processed (a double click, a reload): ask again shortly
          return Shop.sleep(300 + attempt * 100).then(function () { return create(attempt + 1); });
        }
        outcome(body, body.data && body.data.order_id);
      });
  }

  function payExisting(id) {
    $("#loading").textContent = "正在获取订单信息…";
    return Shop.api("POST", "/v1/orders/processing/", {body: {status: 1, order_id: id}})
      .then(function (body) { outcome(body, id); });
  }

  $("#pay-btn").addEventListener("click", goPay);

  // Back from the cashier (page restored from the back/forward cache): the order may be paid by now,
  // so ask again (this tab remembers the order: a reload only asks to pay it, never creates one).
  Shop.refreshOnBack();

  var started;
  if (orderId) {
    started = payExisting(orderId);
  } else if (remembered()) {
    started = payExisting(remembered());
  } else if (key && query.get("address_id")) {
    started = create(0);
  } else {
    stop("没有要支付的订单，请从购物车或我的订单进入");
    started = Promise.resolve();
  }
  started.catch(function (error) { $("#loading").hidden = true; Shop.failed(error); });
})(window.Shop);
