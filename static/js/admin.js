/* admin.html: the merchant's page. The admin key is typed once per tab (sessionStorage) and sent as
 * X-Admin-Key; a missing or wrong key (HTTP 401 / 403) brings the key form back with the reason.
 * Orders by status with pages (GET /v1/admin/orders?status=&page=&page_size=), 待发货 first: each
 * paid order is shipped with carrier + tracking number (POST /v1/admin/orders/<id>/ship); 详情 shows
 * an order's payment events and refunds (GET /v1/admin/orders/<id>). Status and page live in the URL. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;
  var KEY = "dashop_admin_key";
  var PAGE_SIZE = 10;
  var TABS = [[2, "待发货"], [0, "全部"], [1, "待付款"], [3, "待收货"], [4, "已完成"], [5, "已关闭"]];
  var CARRIERS = ["顺丰速运", "京东物流", "中通快递", "圆通速递", "韵达快递", "申通快递", "EMS"];

  var query = Shop.params();
  var status = parseInt(query.get("status"), 10);
  if (!(status >= 0 && status <= 5)) { status = 2; }
  var page = Math.max(1, parseInt(query.get("page"), 10) || 1);

  function key() { try { return window.sessionStorage.getItem(KEY); } catch (e) { return null; } }
  function setKey(value) {
    try {
      if (value) { window.sessionStorage.setItem(KEY, value); } else { window.sessionStorage.removeItem(KEY); }
    } catch (e) { /* private mode: the key lives as long as the page */ }
  }

  function KeyRefused(text) { this.name = "KeyRefused"; this.message = text; }

  /* A merchant call: resolves with the body; a refused key (401/403) asks for the key again. */
  function adminApi(method, path, body) {
    var headers = {"Accept": "application/json", "X-Admin-Key": key() || ""};
    var init = {method: method, headers: headers, cache: "no-store"};
    if (body !== undefined) { headers["Content-Type"] = "application/json"; init.body = JSON.stringify(body); }
    return window.fetch(path, init).then(function (response) {
      return response.text().then(function (text) {
        var parsed = null;
        try { parsed = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (response.status === 401 || response.status === 403) {
          var reason = response.status === 401 ? "请先输入管理密钥" :
            (parsed && parsed.errmsg === "管理接口未启用" ? "商家接口未启用：服务器没有配置管理密钥（DADASHOP_ADMIN_KEY）"
              : "管理密钥错误，请重新输入");
          askKey(reason);
          throw new KeyRefused(reason);
        }
        if (!parsed || typeof parsed.code === "undefined") {
          throw new Error(response.status >= 500 ? "服务器开小差了，请稍后重试" : "请求失败（HTTP " + response.status + "）");
        }
        return parsed;
      });
    }, function () { throw new Error("网络连接失败，请检查网络后重试"); });
  }

  function failed(error) {
    if (error && error.name === "KeyRefused") { return; }
    Shop.failed(error);
  }

  function askKey(reason) {
    setKey(null);
    $("#orders-section").hidden = true;
    $("#forget-key").hidden = true;
    $("#key-section").hidden = false;
    $("#key-error").textContent = reason || "";
    $("#admin-key").value = "";
    $("#admin-key").focus();
  }

  function link(toStatus, toPage) { return "?status=" + toStatus + (toPage > 1 ? "&page=" + toPage : ""); }

  function tabs() {
    $("#status-tabs").innerHTML = TABS.map(function (t) {
      return '<a id="tab-' + t[0] + '" href="' + link(t[0], 1) + '"' +
        (t[0] === status ? ' class="active" aria-current="page"' : "") + ">" + t[1] +
        ' <span class="tab-count" id="count-' + t[0] + '"></span></a>';
    }).join("");
  }

  function counts() {
    return Promise.all(TABS.map(function (t) {
      return adminApi("GET", "/v1/admin/orders?status=" + t[0] + "&page=1&page_size=1").then(function (body) {
        if (body.code === 200) { $("#count-" + t[0]).textContent = body.data.total ? "(" + body.data.total + ")" : ""; }
      });
    })).catch(function () { /* a courtesy */ });
  }

  function shipForm(o) {
    var id = esc(o.order_id);
    return '<form class="ship-form" data-order-id="' + id + '">' +
      '<label class="field"><span>快递公司</span><select class="carrier" id="carrier-' + id + '">' +
      CARRIERS.map(function (c) { return "<option>" + esc(c) + "</option>"; }).join("") + "</select></label>" +
      '<label class="field"><span>运单号</span><input type="text" class="tracking-no" id="tracking-' + id +
      '" maxlength="64" autocomplete="off"></label>' +
      '<button type="submit" class="btn primary ship">发货</button>' +
      '<div class="field-error ship-error" role="alert"></div></form>';
  }

  function orderCard(o) {
    var address = o.address || {};
    var lines = (o.order_sku || []).map(function (sku) {
      return esc(sku.name) + " × " + sku.count;
    }).join("；");
    var shipped = o.logistics ? "物流：" + esc(o.logistics.carrier) + " " +
      '<span class="tracking-no-shown">' + esc(o.logistics.tracking_no) + "</span>" +
      (o.logistics.shipped_time ? "（" + esc(o.logistics.shipped_time) + " 发货）" : "") : "";
    return '<div class="card order admin-order" data-order-id="' + esc(o.order_id) + '" data-status="' + o.status + '">' +
      '<div class="head"><span>订单号：<b class="order-id">' + esc(o.order_id) + "</b></span>" +
      "<span>" + esc(o.order_time) + "</span><span>买家：" + esc(o.username) + "</span>" +
      '<span class="status s' + o.status + '">' + esc(Shop.STATUS_NAMES[o.status] || "") + "</span></div>" +
      '<p class="small">' + lines + "</p>" +
      '<div class="foot"><div class="address-line">收货人：' + esc(address.receiver) + " " + esc(address.mobile) + "　" +
      esc(address.address) + "</div>" +
      (o.paid_time ? '<div class="address-line">支付：' + esc(o.paid_time) + "，支付宝交易号 " + esc(o.trade_no || "") + "</div>" : "") +
      (shipped ? '<div class="address-line logistics">' + shipped + "</div>" : "") +
      "<span>共 " + o.order_total_count + ' 件，<span class="price">' + esc(Shop.money(o.order_total_amount)) + "</span></span>" +
      '<span class="spacer"></span>' +
      '<button type="button" class="btn show-details" aria-expanded="false">付款与退款记录</button>' +
      (o.status === 2 ? shipForm(o) : "") +
      '<div class="admin-details" hidden></div></div></div>';
  }

  function pager(total) {
    var pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (pages <= 1) { $("#pager").innerHTML = ""; return; }
    $("#pager").innerHTML =
      (page > 1 ? '<a class="btn" id="prev-page" href="' + link(status, page - 1) + '">上一页</a>' : "") +
      '<span class="current">第 ' + page + " / " + pages + " 页（共 " + total + " 个订单）</span>" +
      (page < pages ? '<a class="btn" id="next-page" href="' + link(status, page + 1) + '">下一页</a>' : "");
  }

  function load() {
    return adminApi("GET", "/v1/admin/orders?status=" + status + "&page=" + page + "&page_size=" + PAGE_SIZE)
      .then(function (body) {
        if (body.code !== 200) { Shop.notice(Shop.message(body, "订单加载失败")); return; }
        $("#key-section").hidden = true;
        $("#orders-section").hidden = false;
        $("#forget-key").hidden = false;
        var orders = body.data.orders || [];
        var tab = TABS.filter(function (t) { return t[0] === status; })[0];
        $("#orders").innerHTML = orders.length ? orders.map(orderCard).join("")
          : '<div class="card empty">暂无' + (status ? "「" + tab[1] + "」的" : "") + "订单</div>";
        pager(body.data.total || 0);
        counts();
      }).catch(failed);
  }

  function table(headings, rows) {
    return "<table><thead><tr>" + headings.map(function (h) { return '<th scope="col">' + esc(h) + "</th>"; }).join("") +
      "</tr></thead><tbody>" + rows.map(function (r) {
        return "<tr>" + r.map(function (v) { return "<td>" + esc(v) + "</td>"; }).join("") + "</tr>";
      }).join("") + "</tbody></table>";
  }

  function showDetails(card, button) {
    var box = card.querySelector(".admin-details");
    if (!box.hidden) { box.hidden = true; button.setAttribute("aria-expanded", "false"); return; }
    button.disabled = true;
    adminApi("GET", "/v1/admin/orders/" + encodeURIComponent(card.getAttribute("data-order-id"))).then(function (body) {
      button.disabled = false;
      if (body.code !== 200) { Shop.notice(Shop.message(body)); return; }
      var events = body.data.payment_events || [];
      var refunds = body.data.refunds || [];
      box.innerHTML = "<h3 class=\"small\">付款记录（" + events.length + "）</h3>" + (events.length
        ? table(["来源", "交易状态", "金额", "验签", "处理结果", "次数", "收到时间"], events.map(function (e) {
          return [e.source, e.trade_status, e.total_amount, e.verified ? "通过" : "未通过", e.outcome, e.repeats,
                  e.received_time];
        })) : '<p class="muted">没有付款记录</p>') +
        "<h3 class=\"small\">退款（" + refunds.length + "）</h3>" + (refunds.length
        ? table(["退款单号", "金额", "原因", "状态", "尝试", "创建时间", "完成时间"], refunds.map(function (r) {
          return [r.out_request_no, r.amount, r.reason, r.status, r.attempts, r.created_time, r.done_time || ""];
        })) : '<p class="muted">没有退款</p>');
      box.hidden = false;
      button.setAttribute("aria-expanded", "true");
    }).catch(function (error) { button.disabled = false; failed(error); });
  }

  $("#orders").addEventListener("click", function (event) {
    var button = event.target.closest(".show-details");
    if (button && !button.disabled) { showDetails(button.closest(".admin-order"), button); }
  });

  $("#orders").addEventListener("submit", function (event) {
    var form = event.target.closest(".ship-form");
    if (!form) { return; }
    event.preventDefault();
    var orderId = form.getAttribute("data-order-id");
    var carrier = form.querySelector(".carrier").value;
    var trackingNo = form.querySelector(".tracking-no").value.trim();
    var error = form.querySelector(".ship-error");
    if (!/^[A-Za-z0-9-]{6,64}$/.test(trackingNo)) {
      error.textContent = "请填写运单号（6 到 64 位字母、数字或 -）";
      form.querySelector(".tracking-no").focus();
      return;
    }
    error.textContent = "";
    var button = form.querySelector(".ship");
    button.disabled = true;
    adminApi("POST", "/v1/admin/orders/" + encodeURIComponent(orderId) + "/ship", {carrier: carrier, tracking_no: trackingNo})
      .then(function (body) {
        button.disabled = false;
        if (body.code === 200) {
          Shop.toast("订单 " + orderId + " 已发货：" + carrier + " " + trackingNo);
          return load();
        }
        error.textContent = body.code === 50107 ? "订单状态已变化（可能已发货或已关闭），请刷新后查看" :
          body.code === 50109 ? body.errmsg : Shop.message(body);
      }).catch(function (err) { button.disabled = false; failed(err); });
  });

  $("#key-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var value = $("#admin-key").value.trim();
    if (!value) { $("#key-error").textContent = "请输入管理密钥"; return; }
    setKey(value);
    $("#key-error").textContent = "";
    load();
  });

  $("#forget-key").addEventListener("click", function () { askKey(""); });

  tabs();
  if (key()) { load(); } else { askKey(""); }
})(window.Shop);
