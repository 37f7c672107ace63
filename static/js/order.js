/* order.html?id=<order_id>: one of the buyer's orders — status, lines, address, payment time
 * (`paid_time`), the merchant's logistics (`{carrier, tracking_no, shipped_time}`) and, while it awaits
 * payment, the countdown to `pay_deadline` with 去支付 / 取消订单. The buyer's order list
 * (GET /v1/orders/processing/?status=1) carries all of it; the page finds the order there. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;

  Shop.header("orders");
  if (!Shop.requireLogin()) { return; }

  var orderId = Shop.params().get("id") || "";
  var order = null;
  var stopClock = function () {};

  function actions(o) {
    if (o.status === 1) {
      return '<a class="btn primary pay-order" href="/static/payment.html?order_id=' + encodeURIComponent(o.order_id) +
        '">去支付</a><button type="button" class="btn cancel-order">取消订单</button>';
    }
    var again = '<button type="button" class="btn buy-again">再次购买</button>';
    return o.status === 3 ? again + '<button type="button" class="btn primary confirm-receipt">确认收货</button>' : again;
  }

  function show(o, baseUrl) {
    order = o;
    var address = o.address || {};
    $("#loading").hidden = true;
    $("#order").hidden = false;
    $("#order").setAttribute("data-status", o.status);
    $("#order-status").textContent = Shop.STATUS_NAMES[o.status] || "";
    $("#order-status").className = "status s" + o.status;
    $("#order-id").textContent = o.order_id;
    $("#order-time").textContent = o.order_time;
    $("#paid-time").textContent = o.paid_time || (o.status === 1 ? "待支付" : "未支付");
    var shipped = o.logistics && (o.logistics.carrier || o.logistics.tracking_no);
    $("#logistics-section").hidden = !shipped;
    if (shipped) {
      $("#carrier").textContent = o.logistics.carrier || "";
      $("#tracking-no").textContent = o.logistics.tracking_no || "";
      $("#shipped-time").textContent = o.logistics.shipped_time || "";
    }
    $("#receiver").textContent = (address.receiver || "") + " " + (address.mobile || "");
    $("#address-text").textContent = (address.title ? "[" + address.title + "] " : "") + (address.address || "");
    $("#sku-lines").innerHTML = (o.order_sku || []).map(function (sku) {
      return '<div class="line" data-sku-id="' + sku.id + '"><img src="' + esc(Shop.image(baseUrl, sku.default_image_url)) +
        '" alt=""><div class="info"><div class="name">' + esc(sku.name) + "</div>" +
        '<div class="attrs">' + esc(Shop.attrs(sku.sku_sale_attr_names, sku.sku_sale_attr_vals)) + "</div>" +
        '<div class="small">' + esc(Shop.money(sku.price)) + " × " + sku.count + "</div></div>" +
        '<div class="figures">' + esc(Shop.money(sku.total_amount)) + "</div></div>";
    }).join("");
    $("#total-count").textContent = o.order_total_count;
    $("#freight").textContent = Shop.money(o.order_freight);
    // 实付 once paid (待发货, 待收货, 已完成); 应付 while unpaid and for a closed order
    $("#amount-label").textContent = o.status >= 2 && o.status <= 4 ? "实付" : "应付";
    $("#order-amount").textContent = Shop.money(o.order_total_amount);
    $("#actions").innerHTML = actions(o);
    stopClock();
    stopClock = o.status === 1 ? Shop.countdown($("#countdown"), o.pay_deadline, function () {
      var pay = $("#actions .pay-order");
      if (pay) { pay.classList.add("disabled"); pay.setAttribute("aria-disabled", "true"); }
    }) : function () {};
    if (o.status !== 1) { $("#countdown").hidden = true; }
  }

  function load() {
    return Shop.findOrder(orderId).then(function (found) {
      $("#loading").hidden = true;
      if (!found) { Shop.notice('没有找到订单 ' + esc(orderId) + '，<a href="/static/myOrders.html">返回我的订单</a>', "error", true); return; }
      show(found, null);  // images from the shop's own folder
    }).catch(function (error) { $("#loading").hidden = true; Shop.failed(error); });
  }

  function act(button, request, doneText) {
    button.disabled = true;
    return request().then(function (body) {
      if (body.code === 200) {
        Shop.toast(doneText);
      } else if (body.code === 50107) {
        Shop.notice("订单状态已变化（可能已支付或已关闭），已为您刷新", "info");
      } else {
        Shop.notice(Shop.message(body));
      }
      return load();
    }).catch(function (error) { button.disabled = false; Shop.failed(error); });
  }

  $("#actions").addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || button.disabled || !order) { return; }
    if (button.classList.contains("buy-again")) {
      button.disabled = true;
      Shop.buyAgain(order).catch(function (error) { button.disabled = false; Shop.failed(error); });
    } else if (button.classList.contains("cancel-order")) {
      Shop.ask("确定取消订单 " + order.order_id + " 吗？取消后订单将关闭，无法恢复。", "确定取消", "暂不取消").then(function (yes) {
        if (!yes) { return; }
        act(button, function () {
          return Shop.api("POST", "/v1/orders/processing/", {body: {status: 2, order_id: order.order_id}});
        }, "订单已取消");
      });
    } else if (button.classList.contains("confirm-receipt")) {
      Shop.ask("确认已经收到订单 " + order.order_id + " 的商品了吗？", "确认收货", "还没收到").then(function (yes) {
        if (!yes) { return; }
        act(button, function () {
          return Shop.api("GET", "/v1/orders/processing/", {query: {status: 2, order_id: order.order_id}});
        }, "确认收货成功");
      });
    }
  });

  Shop.refreshOnBack();
  load();
})(window.Shop);
