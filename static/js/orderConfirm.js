/* orderConfirm.html: GET /v1/orders/processing/?status=0 (cart selection or buy-now), choose or add an
 * address, then 确认并付款 → payment.html, which creates the order.
 *
 * The idempotency key is made here, once per visit of this page, and travels to payment.html in its
 * URL: reloading the payment page, or arriving there twice, repeats the same submission, so the
 * server answers with the same order instead of creating a second one. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;

  Shop.header("cart");
  if (!Shop.requireLogin()) { return; }

  var query = Shop.params();
  var settlement = query.get("settlement_type") === "1" ? "1" : "0";
  var buyNow = settlement === "1" ? {sku_id: query.get("sku_id"), buy_num: query.get("buy_num") || "1"} : null;
  var key = Shop.newKey();
  var submitted = false;
  var selectedAddress = null;
  var confirmData = null;
  var problems = [];  // what cannot be ordered as listed, e.g. 「键盘」已售罄
  var picker = null;  // the province/city/district picker, made when the address form is first shown

  function showAddressForm() {
    if (!picker) {
      picker = window.Region.picker($("#addr-province"), $("#addr-city"), $("#addr-district"));
      picker.ready.catch(function () { $("#addr-error").textContent = "地区数据加载失败，请刷新页面重试"; });
    }
    $("#address-form").hidden = false;
  }

  if (buyNow) {
    $("#back-link").href = "/static/index.html";
    $("#back-link").textContent = "返回商品列表";
  }

  function confirmQuery() {
    var params = {status: 0, settlement_type: settlement};
    if (buyNow) { params.sku_id = buyNow.sku_id; params.buy_num = buyNow.buy_num; }
    return params;
  }

  function renderAddresses(addresses) {
    addresses = addresses.slice().sort(function (a, b) { return (b.is_default ? 1 : 0) - (a.is_default ? 1 : 0); });
    var ids = addresses.map(function (a) { return a.id; });
    if (selectedAddress === null || ids.indexOf(selectedAddress) < 0) {
      selectedAddress = addresses.length ? addresses[0].id : null;
    }
    $("#addresses").innerHTML = addresses.map(function (a) {
      var checked = a.id === selectedAddress;
      return '<label class="address' + (checked ? " selected" : "") + '" data-address-id="' + a.id + '">' +
        '<input type="radio" name="address" value="' + a.id + '"' + (checked ? " checked" : "") + ">" +
        '<div><div><b class="receiver">' + esc(a.name) + "</b> " + esc(a.mobile) + "</div>" +
        "<div>" + (a.is_default ? '<span class="tag default">默认</span>' : "") +
        (a.title ? '<span class="tag">' + esc(a.title) + "</span>" : "") + esc(a.address) + "</div></div></label>";
    }).join("");
    $("#address-section").hidden = false;
    var none = !addresses.length;
    if (none) { showAddressForm(); } else { $("#address-form").hidden = true; }
    $("#no-address-hint").hidden = !none;
    $("#cancel-address").hidden = none;
    $("#show-address-form").hidden = none;
  }

  /* Stock and shelf state of what is about to be ordered, {sku_id: {name, stock, is_launched}}: the
   * cart's lines carry them (settlement 0), buy-now asks the catalog. A failure here only means
   * nothing is flagged early; the order itself still checks. */
  function availability() {
    if (!buyNow) {
      return Shop.api("GET", "/v1/carts/" + encodeURIComponent(Shop.user())).then(function (body) {
        var known = {};
        if (body.code === 200) { body.data.forEach(function (item) { known[item.id] = item; }); }
        return known;
      }, function () { return {}; });
    }
    return Shop.api("GET", "/v1/goods/skus/" + encodeURIComponent(buyNow.sku_id), {auth: false}).then(function (body) {
      var known = {};
      known[buyNow.sku_id] = body.code === 200 ? body.data : {is_launched: false};
      return known;
    }, function () { return {}; });
  }

  function renderGoods(data, baseUrl, known) {
    problems = [];
    $("#sku-lines").innerHTML = (data.sku_list || []).map(function (sku) {
      var problem = known[sku.id] ? Shop.unavailableText(known[sku.id], sku.count) : "";
      if (problem) { problems.push("「" + sku.name + "」" + problem); }
      return '<div class="line' + (problem ? " unavailable" : "") + '" data-sku-id="' + sku.id + '">' +
        '<img src="' + esc(Shop.image(baseUrl, sku.default_image_url)) + '" alt="">' +
        '<div class="info"><div class="name">' + esc(sku.name) + "</div>" +
        '<div class="attrs">' + esc(Shop.attrs(sku.sku_sale_attr_names, sku.sku_sale_attr_vals)) + "</div>" +
        '<div class="small">' + esc(Shop.money(sku.price)) + " × " + sku.count + "</div>" +
        (problem ? '<div class="warn flag">' + esc(problem) + "</div>" : "") + "</div>" +
        '<div class="figures price">' + esc(Shop.money(sku.total_amount)) + "</div></div>";
    }).join("");
    $("#total-count").textContent = data.total_count;
    $("#total-amount").textContent = Shop.money(data.total_amount);
    $("#transit").textContent = Shop.money(data.transit);
    $("#payment-amount").textContent = Shop.money(data.payment_amount);
    $("#bar-amount").textContent = Shop.money(data.payment_amount);
    $("#goods-section").hidden = false;
    $("#totals-section").hidden = false;
    $("#confirm-bar").hidden = false;
    if (problems.length) {
      showProblems();
    }
  }

  /* Items that cannot be had as listed block the order here, before any payment step. */
  function showProblems() {
    var back = buyNow ? '<a href="/static/index.html">返回商品列表</a>选择其他商品'
      : '<a href="/static/cart.html">返回购物车</a>修改后再提交';
    Shop.notice("以下商品暂时无法购买：" + problems.map(esc).join("；") + "。请" + back + "。", "error", true);
  }

  function updatePayButton() {
    $("#go-pay").disabled = selectedAddress === null || !confirmData || !(confirmData.sku_list || []).length ||
      problems.length > 0 || submitted;
  }

  function load() {
    return Promise.all([Shop.api("GET", "/v1/orders/processing/", {query: confirmQuery()}), availability()])
      .then(function (answers) {
        var body = answers[0];
        $("#loading").hidden = true;
        if (body.code === 200 || body.code === 50100) {
          Shop.notice("");
          confirmData = body.data || {};
          renderGoods(confirmData, body.base_url, answers[1]);
          renderAddresses(body.code === 50100 ? [] : (confirmData.addresses || []));
          if (body.code === 50100) { $("#addr-receiver").focus(); }
        } else if (body.code === 50101) {
          problems = ["nothing"];
          offShelf(body).then(function (text) { Shop.notice(text, text.indexOf("已下架") >= 0 ? "error" : "info"); });
          $("#confirm-bar").hidden = true;
        } else {
          Shop.notice(Shop.message(body, "订单信息加载失败"));
        }
        updatePayButton();
      }).catch(function (error) { $("#loading").hidden = true; Shop.failed(error); });
  }

  /* The sentence for a 50101: an item gone off the shelf is named; an empty selection is no error
   * (e.g. Back after an order was placed: the cart no longer holds what was ordered). */
  function offShelf(body) {
    var skuId = Shop.skuIdIn(body.errmsg);
    if (skuId !== null && /下架/.test(body.errmsg || "")) {
      return Shop.api("GET", "/v1/carts/" + encodeURIComponent(Shop.user())).then(function (cart) {
        var item = cart.code === 200 ? cart.data.filter(function (i) { return i.id === skuId; })[0] : null;
        return "「" + (item ? item.name : "商品") + "」已下架，请" + (buyNow ? "选择其他商品" : "返回购物车删除后再结算");
      }, function () { return "有商品已下架，请返回购物车删除后再结算"; });
    }
    return Promise.resolve(buyNow ? "该商品暂时无法购买（已下架或数量不正确）"
      : "购物车中没有勾选的商品。刚提交的订单可以在「我的订单」中查看。");
  }

  /* Back to this page after the order was made (restored as it was left): say what became of the
   * order instead of offering to submit again. */
  function showPlacedOrder(orderId) {
    $("#go-pay").disabled = true;
    return Shop.findOrder(orderId).then(function (order) {
      var link = ' <a href="/static/myOrders.html">查看我的订单</a>';
      if (order && order.status === 1) {
        Shop.notice("订单 " + esc(orderId) + ' 已提交，尚未支付。<a href="/static/payment.html?order_id=' +
          encodeURIComponent(orderId) + '">去支付</a>' + link, "info", true);
      } else if (order && order.status === 5) {
        Shop.notice("订单 " + esc(orderId) + " 已关闭。" + link, "info", true);
      } else {
        Shop.notice("订单 " + esc(orderId) + " 已支付成功，商家将尽快发货。" + link, "ok", true);
      }
    }).catch(Shop.failed);
  }

  $("#addresses").addEventListener("change", function (event) {
    if (event.target.name !== "address") { return; }
    selectedAddress = Number(event.target.value);
    if (submitted) { key = Shop.newKey(); submitted = false; }  // a different order from here on
    Shop.$all(".address").forEach(function (el) {
      el.classList.toggle("selected", Number(el.getAttribute("data-address-id")) === selectedAddress);
    });
    updatePayButton();
  });

  $("#show-address-form").addEventListener("click", function () {
    showAddressForm();
    $("#cancel-address").hidden = false;
    $("#addr-receiver").focus();
  });
  $("#cancel-address").addEventListener("click", function () { $("#address-form").hidden = true; });

  $("#address-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var region = picker ? picker.value() : {};
    var detail = $("#addr-address").value.trim();
    var form = {
      receiver: $("#addr-receiver").value.trim(), receiver_phone: $("#addr-phone").value.trim(),
      address: window.Region.compose(region, detail), postcode: $("#addr-postcode").value.trim(),
      tag: $("#addr-tag").value.trim(), is_default: $("#addr-default").checked
    };
    var problem = !form.receiver ? "请填写收货人" :
      !/^1\d{10}$/.test(form.receiver_phone) ? "请填写11位手机号（以1开头）" :
      !region.province ? "请选择省份" : !region.city ? "请选择城市" : !region.district ? "请选择区县" :
      !detail ? "请填写详细地址" :
      (form.postcode && !/^\d{6}$/.test(form.postcode)) ? "邮政编码应为6位数字" : "";
    $("#addr-error").textContent = problem;
    if (problem) { return; }
    if (!form.postcode) { delete form.postcode; }
    var button = $("#save-address");
    button.disabled = true;
    Shop.api("POST", "/v1/users/" + encodeURIComponent(Shop.user()) + "/address", {body: form}).then(function (body) {
      button.disabled = false;
      if (body.code !== 200) {
        $("#addr-error").textContent = body.code === 50109 ? "地址信息有误：" + body.errmsg : Shop.message(body);
        return;
      }
      selectedAddress = body.data && body.data.id ? body.data.id : selectedAddress;
      $("#address-form").reset();
      picker.reset();
      Shop.toast("收货地址已保存");
      Shop.notice("");
      return load();
    }).catch(function (error) { button.disabled = false; Shop.failed(error); });
  });

  $("#go-pay").addEventListener("click", function () {
    if ($("#go-pay").disabled) { return; }
    if (selectedAddress === null) { Shop.notice("请选择收货地址"); return; }
    $("#go-pay").disabled = true;  // one click, one navigation
    submitted = true;
    var names = {};
    (confirmData.sku_list || []).forEach(function (sku) { names[sku.id] = sku.name; });
    try { window.sessionStorage.setItem("dashop_names_" + key, JSON.stringify(names)); } catch (e) { /* private mode */ }
    var params = new URLSearchParams({settlement_type: settlement, address_id: selectedAddress, key: key});
    if (buyNow) { params.set("sku_id", buyNow.sku_id); params.set("buy_num", buyNow.buy_num); }
    window.location.href = "/static/payment.html?" + params.toString();
  });

  // Back to this page (restored from the back/forward cache): what it showed may be stale.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    var placed = null;
    try { placed = window.sessionStorage.getItem("dashop_order_" + key); } catch (e) { /* private mode */ }
    if (placed) {
      showPlacedOrder(placed);
    } else {
      key = Shop.newKey();  // nothing was ordered with the old key; start afresh
      submitted = false;
      load();
    }
  });

  load();
})(window.Shop);
