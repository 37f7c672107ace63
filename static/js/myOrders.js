/* myOrders.html: GET /v1/orders/processing/?status=1&order_status=N, tabs and pages in the URL
 * (?tab=N&page=P, so reload and back keep the place), the number of orders on each tab (the `total`
 * of a one-line page per status), and per order what its status allows: 去支付 / 取消订单 (with the
 * time left when the API gives `pay_deadline`) for 待付款, 确认收货 for 待收货, 再次购买 for the rest.
 * The amount is 应付 (to pay) until an order is paid and 实付 (paid) afterwards; a closed order that
 * was never paid shows 应付 too. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;
  var PAGE_SIZE = 5;
  var TABS = [[0, "全部"], [1, "待付款"], [2, "待发货"], [3, "待收货"], [4, "已完成"], [5, "已关闭"]];

  Shop.header("orders");
  if (!Shop.requireLogin()) { return; }

  var query = Shop.params();
  var tab = parseInt(query.get("tab"), 10);
  if (!(tab >= 0 && tab <= 5)) { tab = 0; }
  var page = Math.max(1, parseInt(query.get("page"), 10) || 1);

  function link(toTab, toPage) { return "?tab=" + toTab + (toPage > 1 ? "&page=" + toPage : ""); }

  $("#order-tabs").innerHTML = TABS.map(function (t) {
    return '<a id="tab-' + t[0] + '" data-status="' + t[0] + '" href="' + link(t[0], 1) + '"' +
      (t[0] === tab ? ' class="active" aria-current="page"' : "") + ">" + t[1] +
      ' <span class="tab-count" id="count-' + t[0] + '"></span></a>';
  }).join("");
  var stopClocks = [];

  /* The number of orders under each tab: `total` of each status's list, one order per page. */
  function loadCounts() {
    return Promise.all(TABS.map(function (t) {
      return Shop.api("GET", "/v1/orders/processing/", {query: {status: 1, order_status: t[0], page: 1, page_size: 1}})
        .then(function (body) {
          if (body.code !== 200) { return; }
          var total = body.data.total || 0;
          $("#count-" + t[0]).textContent = total ? "(" + total + ")" : "";
          $("#tab-" + t[0]).setAttribute("aria-label", t[1] + "，" + total + " 个订单");
        });
    })).catch(function () { /* the counts are a courtesy */ });
  }

  /* Paid orders (2 待发货, 3 待收货, 4 已完成) say 实付; unpaid and closed ones 应付. A closed order
   * could have been paid and refunded only through the merchant; the list does not say, so 应付. */
  function amountLabel(order) { return order.status >= 2 && order.status <= 4 ? "实付" : "应付"; }

  function actions(order) {
    if (order.status === 1) {
      return '<a class="btn primary pay-order" href="/static/payment.html?order_id=' + encodeURIComponent(order.order_id) +
        '">去支付</a><button type="button" class="btn cancel-order">取消订单</button>';
    }
    var again = '<button type="button" class="btn buy-again">再次购买</button>';
    if (order.status === 3) { return again + '<button type="button" class="btn primary confirm-receipt">确认收货</button>'; }
    return again;
  }

  /* The merchant's carrier and tracking number, once the API lists them (`logistics`); nothing before. */
  function logistics(order) {
    var info = order.logistics;
    if (!info || !(info.carrier || info.tracking_no)) { return ""; }
    return '<div class="address-line logistics">物流：' + esc(info.carrier || "") + " " +
      '<span class="tracking-no">' + esc(info.tracking_no || "") + "</span></div>";
  }

  function orderCard(order, baseUrl) {
    var address = order.address || {};
    var lines = (order.order_sku || []).map(function (sku) {
      return '<div class="line"><img src="' + esc(Shop.image(baseUrl, sku.default_image_url)) + '" alt="">' +
        '<div class="info"><div class="name">' + esc(sku.name) + "</div>" +
        '<div class="attrs">' + esc(Shop.attrs(sku.sku_sale_attr_names, sku.sku_sale_attr_vals)) + "</div>" +
        '<div class="small">' + esc(Shop.money(sku.price)) + " × " + sku.count + "</div></div>" +
        '<div class="figures">' + esc(Shop.money(sku.total_amount)) + "</div></div>";
    }).join("");
    return '<div class="card order" data-order-id="' + esc(order.order_id) + '" data-status="' + order.status + '">' +
      '<div class="head"><span>订单号：<b class="order-id">' + esc(order.order_id) + "</b></span>" +
      "<span>" + esc(order.order_time) + "</span>" +
      '<span class="status s' + order.status + '">' + esc(Shop.STATUS_NAMES[order.status] || "") + "</span></div>" +
      lines +
      '<div class="foot">' + logistics(order) +
      '<div class="address-line">收货人：' + esc(address.receiver) + " " + esc(address.mobile) + "　" +
      (address.title ? "[" + esc(address.title) + "] " : "") + esc(address.address) + "</div>" +
      (order.status === 1 && order.pay_deadline ? '<p class="countdown" data-deadline="' + esc(order.pay_deadline) + '" hidden></p>' : "") +
      '<span>共 ' + order.order_total_count + ' 件，<span class="amount-label">' + amountLabel(order) +
      '</span> <span class="price order-amount">' +
      esc(Shop.money(order.order_total_amount)) + '</span> <span class="muted small">（含运费 ' +
      esc(Shop.money(order.order_freight)) + "）</span></span>" +
      '<span class="spacer"></span>' + actions(order) + "</div></div>";
  }

  function pager(total) {
    var pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (pages <= 1) { $("#pager").innerHTML = ""; return; }
    $("#pager").innerHTML =
      (page > 1 ? '<a class="btn" id="prev-page" href="' + link(tab, page - 1) + '">上一页</a>' : "") +
      '<span class="current">第 ' + page + " / " + pages + " 页（共 " + total + " 个订单）</span>" +
      (page < pages ? '<a class="btn" id="next-page" href="' + link(tab, page + 1) + '">下一页</a>' : "");
  }

  var loaded = {};  // order_id → the order as listed

  function load() {
    return Shop.api("GET", "/v1/orders/processing/",
      {query: {status: 1, order_status: tab, page: page, page_size: PAGE_SIZE}}).then(function (body) {
      if (body.code !== 200) { Shop.notice(Shop.message(body, "订单加载失败")); return; }
      var orders = body.data.orders_list || [];
      if (!orders.length && page > 1 && body.data.total > 0) {  // the last page emptied (e.g. after a cancel)
        window.location.replace(link(tab, Math.ceil(body.data.total / PAGE_SIZE)));
        return;
      }
      loaded = {};
      orders.forEach(function (order) { loaded[order.order_id] = order; });
      stopClocks.forEach(function (stop) { stop(); });
      $("#orders").innerHTML = orders.length
        ? orders.map(function (order) { return orderCard(order, body.base_url); }).join("")
        : '<div class="card empty">暂无' + (tab ? "「" + TABS[tab][1] + "」的" : "") + '订单，<a href="/static/index.html">去逛逛</a></div>';
      stopClocks = Shop.$all("#orders .countdown").map(function (el) {
        return Shop.countdown(el, el.getAttribute("data-deadline"), function () {
          var pay = el.closest(".order").querySelector(".pay-order");
          if (pay) { pay.classList.add("disabled"); pay.setAttribute("aria-disabled", "true"); }
        });
      });
      pager(body.data.total || 0);
      loadCounts();
    }).catch(Shop.failed);
  }

  function act(button, request, doneText) {
    button.disabled = true;
    return request().then(function (body) {
      button.disabled = false;
      if (body.code === 200) {
        Shop.notice("");
        Shop.toast(doneText);
      } else if (body.code === 50107) {
        Shop.notice("订单状态已变化（可能已支付或已关闭），已为您刷新订单列表", "info");
      } else {
        Shop.notice(Shop.message(body));
      }
      return load();
    }).catch(function (error) { button.disabled = false; Shop.failed(error); });
  }

  $("#orders").addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || button.disabled) { return; }
    var orderId = button.closest(".order").getAttribute("data-order-id");
    if (button.classList.contains("cancel-order")) {
      Shop.ask("确定取消订单 " + orderId + " 吗？取消后订单将关闭，无法恢复。", "确定取消", "暂不取消").then(function (yes) {
        if (!yes) { return; }
        act(button, function () {
          return Shop.api("POST", "/v1/orders/processing/", {body: {status: 2, order_id: orderId}});
        }, "订单已取消");
      });
    } else if (button.classList.contains("confirm-receipt")) {
      Shop.ask("确认已经收到订单 " + orderId + " 的商品了吗？", "确认收货", "还没收到").then(function (yes) {
        if (!yes) { return; }
        act(button, function () {
          return Shop.api("GET", "/v1/orders/processing/", {query: {status: 2, order_id: orderId}});
        }, "确认收货成功");
      });
    }
  });

  /* 再次购买: the order's items back into the cart (as many as are left of each), then to the cart.
   * What could not be put back is said there. */
  function buyAgain(button, order) {
    button.disabled = true;
    var cartUrl = "/v1/carts/" + encodeURIComponent(Shop.user());
    var missed = [];
    var added = 0;
    function addOne(sku, count) {
      return Shop.api("POST", cartUrl, {body: {sku_id: sku.id, count: count}}).then(function (body) {
        if (body.code === 200) { added += 1; return; }
        if (body.code !== 30103) { missed.push("「" + sku.name + "」已下架"); return; }
        // 30103 (the cart module's over-stock): take what there is, or say it is sold out
        return Shop.api("GET", "/v1/goods/skus/" + sku.id, {auth: false}).then(function (answer) {
          var left = answer.code === 200 ? answer.data.stock : 0;
          if (answer.code !== 200) { missed.push("「" + sku.name + "」已下架"); return; }
          if (left <= 0) { missed.push("「" + sku.name + "」已售罄"); return; }
          missed.push("「" + sku.name + "」库存不足，仅加入 " + left + " 件");
          return Shop.api("POST", cartUrl, {body: {sku_id: sku.id, count: left}}).then(function () { added += 1; });
        });
      });
    }
    (order.order_sku || []).reduce(function (done, sku) {
      return done.then(function () { return addOne(sku, sku.count); });
    }, Promise.resolve()).then(function () {
      if (missed.length) {
        var text = (added ? "已将其余商品加入购物车。" : "") + missed.join("；") + "。";
        try { window.sessionStorage.setItem("dashop_cart_note", JSON.stringify({text: text, kind: "info"})); } catch (e) {}
      }
      window.location.href = "/static/cart.html";
    }).catch(function (error) { button.disabled = false; Shop.failed(error); });
  }

  $("#orders").addEventListener("click", function (event) {
    var button = event.target.closest(".buy-again");
    if (!button || button.disabled) { return; }
    var order = loaded[button.closest(".order").getAttribute("data-order-id")];
    if (order) { buyAgain(button, order); }
  });

  Shop.refreshOnBack();
  load();
})(window.Shop);
