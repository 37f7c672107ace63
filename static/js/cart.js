/* cart.html: the cart (GET|PUT|DELETE /v1/carts/<username>) and 去结算 → orderConfirm.html. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;
  var items = [];
  var busy = false;

  Shop.header("cart");
  if (!Shop.requireLogin()) { return; }
  var cartUrl = "/v1/carts/" + encodeURIComponent(Shop.user());

  function cents(price) { return Math.round(parseFloat(price) * 100); }
  function yuan(total) { return (total / 100).toFixed(2); }

  function line(item) {
    var problem = "";
    if (item.is_launched === false) {
      problem = "该商品已下架";
    } else if (typeof item.stock === "number" && item.count > item.stock) {
      problem = item.stock > 0 ? "库存不足，仅剩 " + item.stock + " 件" : "已售罄";
    }
    var atMax = typeof item.stock === "number" && item.count >= item.stock;
    return '<div class="line" data-sku-id="' + item.id + '">' +
      '<input type="checkbox" class="select" aria-label="选择 ' + esc(item.name) + '"' + (item.selected ? " checked" : "") + ">" +
      '<img src="' + esc(Shop.image(null, item.default_image_url)) + '" alt="">' +
      '<div class="info"><div class="name">' + esc(item.name) + "</div>" +
      '<div class="attrs">' + esc(Shop.attrs(item.sku_sale_attr_name, item.sku_sale_attr_val)) + "</div>" +
      '<div class="price small">' + esc(Shop.money(item.price)) + "</div>" +
      (problem ? '<div class="warn">' + esc(problem) + "</div>" : "") +
      '<div class="row" style="margin-top:6px"><span class="qty">' +
      '<button type="button" class="minus" aria-label="减少"' + (item.count <= 1 ? " disabled" : "") + ">−</button>" +
      '<span class="count">' + item.count + "</span>" +
      '<button type="button" class="plus" aria-label="增加"' + (atMax ? " disabled" : "") + ">+</button></span>" +
      '<button type="button" class="btn link remove">删除</button></div></div>' +
      '<div class="figures"><div class="muted small">小计</div><div class="price subtotal">' +
      esc(Shop.money(yuan(cents(item.price) * item.count))) + "</div></div></div>";
  }

  function render() {
    if (!items.length) {
      $("#cart-lines").innerHTML = '<div class="empty">购物车还是空的，<a href="/static/index.html">去逛逛</a></div>';
      $("#checkout-bar").hidden = true;
      return;
    }
    $("#cart-lines").innerHTML = items.map(line).join("");
    var selected = items.filter(function (item) { return item.selected; });
    var total = selected.reduce(function (sum, item) { return sum + cents(item.price) * item.count; }, 0);
    var count = selected.reduce(function (sum, item) { return sum + item.count; }, 0);
    $("#selected-count").textContent = count;
    $("#cart-total").textContent = Shop.money(yuan(total));
    $("#select-all").checked = selected.length === items.length;
    $("#go-buy").disabled = !selected.length;
    $("#checkout-bar").hidden = false;
  }

  function nameOf(skuId) {
    var found = items.filter(function (item) { return item.id === skuId; })[0];
    return found ? found.name : null;
  }

  /* One cart call; the answer is the whole cart, so the page simply re-renders it. */
  function call(method, body) {
    if (busy) { return Promise.resolve(); }
    busy = true;
    return Shop.api(method, cartUrl, {body: body}).then(function (answer) {
      busy = false;
      if (answer.code === 200) {
        Shop.notice("");
        items = answer.data;
        render();
      } else if (answer.code === 30103) {  // the cart module's codes: 30103 over stock, 30101 no such SKU
        var names = {};
        items.forEach(function (item) { names[item.id] = item.name; });
        return Shop.stockMessage(answer, names).then(function (text) { Shop.notice(text); });
      } else if (answer.code === 30101 && body && body.sku_id) {
        Shop.notice("「" + (nameOf(body.sku_id) || "该商品") + "」已下架或不在购物车中");
      } else {
        Shop.notice(Shop.message(answer));
      }
    }).catch(function (error) { busy = false; Shop.failed(error); });
  }

  $("#cart-lines").addEventListener("click", function (event) {
    var target = event.target;
    var row = target.closest(".line");
    if (!row) { return; }
    var skuId = Number(row.getAttribute("data-sku-id"));
    if (target.classList.contains("select")) {
      call("PUT", {state: target.checked ? "select" : "unselect", sku_id: skuId});
    } else if (target.classList.contains("plus") && !target.disabled) {
      call("PUT", {state: "add", sku_id: skuId});
    } else if (target.classList.contains("minus") && !target.disabled) {
      call("PUT", {state: "del", sku_id: skuId});
    } else if (target.classList.contains("remove")) {
      Shop.ask("确定从购物车中删除「" + nameOf(skuId) + "」吗？", "删除").then(function (yes) {
        if (yes) { call("DELETE", {sku_id: skuId}); }
      });
    }
  });

  $("#select-all").addEventListener("change", function (event) {
    call("PUT", {state: event.target.checked ? "selectall" : "unselectall"});
  });

  $("#go-buy").addEventListener("click", function () {
    if (!items.some(function (item) { return item.selected; })) {
      Shop.notice("请先勾选要结算的商品");
      return;
    }
    window.location.href = "/static/orderConfirm.html?settlement_type=0";
  });

  Shop.refreshOnBack();
  call("GET");
})(window.Shop);
