/* payResult.html: where Alipay sends the buyer back after paying (return_url).
 *
 * The query string is Alipay's signed return; it goes to GET /v1/orders/success/ exactly as it came
 * (the signature covers the raw values, so nothing here decodes or re-encodes it). The server checks
 * the signature and asks Alipay; the return alone never marks an order paid. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var raw = window.location.search.replace(/^\?/, "");
  var AUTO_RETRIES = [1000, 2000, 3000];
  var attempt = 0;

  Shop.header("orders");
  if (!Shop.requireLogin()) { return; }

  function state(name, icon, title, text) {
    $("#result").setAttribute("data-state", name);
    $("#result-icon").className = "result-icon " + (name === "paid" ? "ok" : name === "bad" ? "bad" : "wait");
    $("#result-icon").textContent = icon;
    $("#result-title").textContent = title;
    $("#result-text").textContent = text;
  }

  function details(data) {
    if (!data) { return; }
    $("#order-id").textContent = data.order_id || "";
    $("#total-amount").textContent = data.total_amount ? Shop.money(data.total_amount) : "";
    $("#result-details").hidden = !data.order_id;
  }

  function check() {
    $("#retry").disabled = true;
    return Shop.api("GET", "/v1/orders/success/?" + raw).then(function (body) {
      $("#retry").disabled = false;
      details(body.data);
      if (body.code === 200) {
        state("paid", "✓", "支付成功", "我们已收到您的付款，商家将尽快为您发货。");
        $("#retry").hidden = true;
        $("#to-orders").href = "/static/myOrders.html?tab=2";
        $("#to-orders").className = "btn primary";
      } else if (body.code === 50105) {
        state("pending", "…", "支付结果确认中", "支付宝尚未确认这笔付款，通常几秒钟内就会完成。");
        $("#retry").hidden = false;
        if (attempt < AUTO_RETRIES.length) {
          Shop.sleep(AUTO_RETRIES[attempt++]).then(check);
        }
      } else if (body.code === 50108) {
        state("bad", "✕", "非法访问", "支付结果校验失败：这不是一次有效的支付宝返回。如您已付款，请到我的订单中查看。");
        $("#retry").hidden = true;
      } else {
        state("bad", "✕", "无法确认支付结果", Shop.message(body));
        $("#retry").hidden = false;
      }
    }).catch(function (error) {
      $("#retry").disabled = false;
      if (error && error.name === "LoginRedirect") { return; }
      state("pending", "!", "暂时无法确认支付结果", error.message);
      $("#retry").hidden = false;
    });
  }

  $("#retry").addEventListener("click", function () { attempt = AUTO_RETRIES.length; check(); });

  if (!raw) {
    state("bad", "✕", "没有支付结果", "此页面用于显示支付宝付款后的结果，请到我的订单中查看订单状态。");
  } else {
    check();
  }
})(window.Shop);
