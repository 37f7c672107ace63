/* product.html?id=<spu_id>[&sku=<sku_id>]: one product (GET /v1/goods/spus/<spu_id>) with its sale
 * attributes as a selector (颜色, 尺寸 …), the chosen SKU's price, stock and image, a quantity,
 * 加入购物车 and 立即购买.
 *
 * The selector cascades: a value is offered when some SKU on sale and in stock has it together with
 * the values chosen in the attributes before it; choosing a value keeps the later choices when that
 * SKU exists and moves them to the first one on offer otherwise, so a shopper is never stuck.
 *
 * Flash-sale SKUs (`sale_start` / `sale_end` in Shanghai time, `limit_per_buyer`) show their window:
 * a countdown to the start with the buy buttons disabled until then, 已结束 after the end, and
 * 每人限购 N 件 with the quantity capped at N. The server enforces both (50112 / 50113); this only
 * saves the shopper a trip. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;
  var MAX_QUANTITY = 99;

  Shop.header("index");

  var query = Shop.params();
  var spuId = parseInt(query.get("id"), 10);
  var wantedSku = parseInt(query.get("sku"), 10);
  var product = null;
  var baseUrl = null;
  var chosen = [];     // the chosen value of each sale attribute, in the order of product.sale_attrs
  var current = null;  // the SKU those values name (null: no such SKU)
  var timer = null;

  function onOffer(sku) { return sku.is_launched && sku.stock > 0; }

  /* The SKU's value of attribute i (by name; the API lists them in the same order). */
  function valueOf(sku, i) {
    var name = product.sale_attrs[i].name;
    var at = (sku.sku_sale_attr_names || []).indexOf(name);
    return (sku.sku_sale_attr_vals || [])[at >= 0 ? at : i];
  }

  function agreesBefore(sku, i, values) {
    for (var j = 0; j < i; j += 1) { if (valueOf(sku, j) !== values[j]) { return false; } }
    return true;
  }

  function skuOf(values) {
    return product.skus.filter(function (sku) { return agreesBefore(sku, product.sale_attrs.length, values); })[0] || null;
  }

  function offered(i, value, values) {
    return product.skus.some(function (sku) {
      return onOffer(sku) && valueOf(sku, i) === value && agreesBefore(sku, i, values);
    });
  }

  /* Choose `value` for attribute i; later attributes keep their value when it is still offered. */
  function choose(i, value) {
    chosen[i] = value;
    for (var j = i + 1; j < product.sale_attrs.length; j += 1) {
      if (!offered(j, chosen[j], chosen)) {
        var first = product.sale_attrs[j].values.filter(function (v) { return offered(j, v, chosen); })[0];
        if (first !== undefined) { chosen[j] = first; }
      }
    }
    current = skuOf(chosen);
  }

  function renderSelectors() {
    $("#selectors").innerHTML = product.sale_attrs.map(function (attr, i) {
      return '<fieldset class="attr"><legend>' + esc(attr.name) + '</legend><div class="values">' +
        attr.values.map(function (value) {
          var on = offered(i, value, chosen);
          var picked = chosen[i] === value;
          return '<label class="choice' + (on ? "" : " off") + '"><input type="radio" name="attr-' + i + '" value="' +
            esc(value) + '" data-attr="' + i + '"' + (picked ? " checked" : "") + (on || picked ? "" : " disabled") +
            "><span>" + esc(value) + (on ? "" : '<span class="visually-hidden">（无货）</span>') + "</span></label>";
        }).join("") + "</div></fieldset>";
    }).join("");
  }

  function limit() {
    if (!current) { return 1; }
    var most = Math.min(MAX_QUANTITY, Math.max(1, current.stock));
    return current.limit_per_buyer ? Math.min(most, current.limit_per_buyer) : most;
  }

  function quantity() {
    var n = parseInt($("#quantity").value, 10);
    n = isNaN(n) ? 1 : Math.max(1, Math.min(limit(), n));
    $("#quantity").value = n;
    $("#qty-minus").disabled = n <= 1;
    $("#qty-plus").disabled = n >= limit();
    return n;
  }

  function stockText(sku) {
    if (!sku) { return "该规格暂无商品"; }
    if (!sku.is_launched) { return "已下架"; }
    if (sku.stock <= 0) { return "已售罄"; }
    return sku.stock <= 5 ? "仅剩 " + sku.stock + " 件" : "库存 " + sku.stock + " 件";
  }

  function short(time) { return String(time || "").slice(0, 16); }

  /* The flash-sale box for the chosen SKU; returns the sale state ("always" when it has no window). */
  function renderSale() {
    var sku = current;
    var state = sku ? Shop.saleState(sku) : "always";
    var flash = sku && (sku.sale_start || sku.sale_end || sku.limit_per_buyer);
    $("#flash").hidden = !flash;
    if (!flash) { return state; }
    var window_ = [sku.sale_start ? short(sku.sale_start) + " 开售" : "", sku.sale_end ? short(sku.sale_end) + " 结束" : ""]
      .filter(Boolean).join(" · ");
    $("#sale-window").textContent = window_ ? "（北京时间 " + window_ + "）" : "";
    var el = $("#sale-state");
    el.setAttribute("data-state", state);
    if (state === "before") {
      el.innerHTML = '距开售还有 <b class="clock">' + esc(Shop.timeLeft(Shop.shanghaiTime(sku.sale_start))) + "</b>";
    } else if (state === "ended") {
      el.textContent = "已结束";
    } else if (state === "open" && sku.sale_end) {
      el.innerHTML = '抢购进行中，距结束还有 <b class="clock">' + esc(Shop.timeLeft(Shop.shanghaiTime(sku.sale_end))) + "</b>";
    } else {
      el.textContent = state === "open" ? "抢购进行中" : "";
    }
    $("#sale-limit").hidden = !sku.limit_per_buyer;
    $("#sale-limit").textContent = sku.limit_per_buyer ? "每人限购 " + sku.limit_per_buyer + " 件" : "";
    return state;
  }

  function render() {
    var sku = current;
    if (sku) {
      $("#sku-image").src = Shop.image(baseUrl, sku.default_image_url);
      $("#sku-image").alt = sku.name;
      $("#sku-image").hidden = false;
    }
    $("#sku-price").textContent = sku ? Shop.money(sku.price) : "";
    $("#sku-stock").textContent = stockText(sku);
    $("#sku-stock").className = "stock" + (sku && onOffer(sku) && sku.stock > 5 ? "" : " low");
    $("#product").setAttribute("data-sku-id", sku ? sku.id : "");
    renderSelectors();
    var state = renderSale();
    quantity();
    var hint = [];
    if (sku && sku.limit_per_buyer) { hint.push("每人限购 " + sku.limit_per_buyer + " 件"); }
    $("#quantity-hint").textContent = hint.join("，");
    var closed = state === "before" || state === "ended";
    var buyable = !!sku && onOffer(sku) && !closed;
    $("#add-cart").disabled = !buyable;
    $("#buy-now").disabled = !buyable;
    $("#buy-now").textContent = state === "before" ? "即将开抢" : state === "ended" ? "已结束" : "立即购买";
    clock(state);
  }

  /* Tick once a second while a window matters: the countdown, and the buttons when the state changes. */
  function clock(state) {
    window.clearInterval(timer);
    timer = null;
    if (!current || (state !== "before" && !(state === "open" && current.sale_end))) { return; }
    timer = window.setInterval(function () {
      if (Shop.saleState(current) !== state) { render(); return; }
      renderSale();
    }, 1000);
  }

  function show(data, base) {
    product = data;
    baseUrl = base;
    var skus = product.skus;
    var first = skus.filter(function (s) { return s.id === wantedSku; })[0] || skus.filter(onOffer)[0] ||
      skus.filter(function (s) { return s.is_launched; })[0] || skus[0];
    chosen = product.sale_attrs.map(function (attr, i) { return valueOf(first, i); });
    current = skuOf(chosen);
    $("#product-name").textContent = product.name;
    document.title = product.name + " - 达达商城";
    $("#product-caption").textContent = product.caption || "";
    if (product.category) {
      $("#category-link").textContent = product.category;
      $("#category-link").href = "/static/index.html?category=" + encodeURIComponent(product.category);
      $("#crumb-category").hidden = false;
    }
    $("#loading").hidden = true;
    render();
  }

  function load() {
    if (!(spuId > 0)) {
      $("#loading").hidden = true;
      Shop.notice("没有这个商品，请从商品列表进入", "error");
      return Promise.resolve();
    }
    return Shop.api("GET", "/v1/goods/spus/" + spuId, {auth: false}).then(function (body) {
      $("#loading").hidden = true;
      if (body.code !== 200) {
        Shop.notice(body.code === 50101 ? "该商品不存在或已下架" : Shop.message(body, "商品加载失败"), "error");
        $("#product-name").textContent = "商品不存在";
        return;
      }
      show(body.data, body.base_url);
    }).catch(function (error) { $("#loading").hidden = true; Shop.failed(error); });
  }

  function needLogin() {
    if (Shop.token() && Shop.user()) { return false; }
    window.location.href = "/static/login.html?reason=login&next=" +
      encodeURIComponent(window.location.pathname + window.location.search);
    return true;
  }

  $("#selectors").addEventListener("change", function (event) {
    var input = event.target;
    if (input.type !== "radio") { return; }
    choose(Number(input.getAttribute("data-attr")), input.value);
    render();
    var again = $('#selectors input[name="' + input.name + '"]:checked');
    if (again) { again.focus(); }  // the selector was drawn anew: keep the keyboard where it was
    window.history.replaceState(null, "", "?id=" + spuId + (current ? "&sku=" + current.id : ""));
  });

  $("#qty-minus").addEventListener("click", function () { $("#quantity").value = quantity() - 1; quantity(); });
  $("#qty-plus").addEventListener("click", function () { $("#quantity").value = quantity() + 1; quantity(); });
  $("#quantity").addEventListener("change", quantity);

  $("#add-cart").addEventListener("click", function () {
    var button = $("#add-cart");
    if (button.disabled || !current || needLogin()) { return; }
    var sku = current;
    var count = quantity();
    var names = {};
    names[sku.id] = sku.name;
    button.disabled = true;
    Shop.api("POST", "/v1/carts/" + encodeURIComponent(Shop.user()), {body: {sku_id: sku.id, count: count}})
      .then(function (body) {
        button.disabled = false;
        if (body.code === 200) {
          Shop.cartCount(body.data);
          Shop.toast("已加入购物车：" + sku.name + " × " + count);
        } else if (body.code === 30103) {  // the cart module's codes: 30103 over stock, 30101 no such SKU
          Shop.stockMessage(body, names).then(function (text) { Shop.notice(text, "error"); });
        } else if (body.code === 30101) {
          Shop.notice("「" + sku.name + "」已下架", "error");
        } else if (body.code === 50112 || body.code === 50113) {
          Shop.notice(Shop.saleMessage(body, names), "error");
        } else {
          Shop.notice(Shop.message(body), "error");
        }
      })
      .catch(function (error) { button.disabled = false; Shop.failed(error); });
  });

  $("#buy-now").addEventListener("click", function () {
    if ($("#buy-now").disabled || !current) { return; }
    var target = "/static/orderConfirm.html?settlement_type=1&sku_id=" + current.id + "&buy_num=" + quantity();
    if (!Shop.token()) {
      window.location.href = "/static/login.html?reason=login&next=" + encodeURIComponent(target);
      return;
    }
    window.location.href = target;
  });

  Shop.refreshOnBack();  // stock may have changed meanwhile
  load();
})(window.Shop);
