/* cart.html: the cart (GET|PUT|DELETE /v1/carts/<username>) and 去结算 → orderConfirm.html.
 *
 * Lines that cannot be bought as they stand — off the shelf, sold out, or more than the stock left —
 * are caught here rather than on the payment page: they are shown apart under 无货, unticked (on the
 * server too, so the confirm page does not settle them), left out of 合计, and 去结算 stays disabled
 * while nothing buyable is ticked. An over-stock line keeps its − button, so the buyer can bring it
 * down to what is left and tick it again. */
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

  /* Why a line cannot be bought as it stands ("" when it can). */
  function problemOf(item) { return Shop.unavailableText(item, item.count); }
  function buyable(item) { return !problemOf(item); }

  function line(item) {
    var problem = problemOf(item);
    var atMax = typeof item.stock === "number" && item.count >= item.stock;
    var label = (problem ? "无货，无法选择：" : "选择 ") + item.name;
    return '<div class="line' + (problem ? " unavailable" : "") + '" data-sku-id="' + item.id + '">' +
      '<input type="checkbox" class="select" aria-label="' + esc(label) + '"' +
      (item.selected && !problem ? " checked" : "") + (problem ? " disabled" : "") + ">" +
      '<img src="' + esc(Shop.image(null, item.default_image_url)) + '" alt="">' +
      '<div class="info"><div class="name">' + esc(item.name) + "</div>" +
      '<div class="attrs">' + esc(Shop.attrs(item.sku_sale_attr_name, item.sku_sale_attr_val)) + "</div>" +
      '<div class="price small">' + esc(Shop.money(item.price)) + "</div>" +
      (problem ? '<div class="warn flag">' + esc(problem) + "</div>" : "") +
      '<div class="row" style="margin-top:6px"><span class="qty">' +
      '<button type="button" class="minus" aria-label="减少 ' + esc(item.name) + ' 的数量"' +
      (item.count <= 1 ? " disabled" : "") + ">−</button>" +
      '<span class="count" aria-label="数量">' + item.count + "</span>" +
      '<button type="button" class="plus" aria-label="增加 ' + esc(item.name) + ' 的数量"' +
      (atMax || item.is_launched === false ? " disabled" : "") + ">+</button></span>" +
      '<button type="button" class="btn link remove">删除</button></div></div>' +
      '<div class="figures"><div class="muted small">小计</div><div class="price subtotal">' +
      esc(Shop.money(yuan(cents(item.price) * item.count))) + "</div></div></div>";
  }

  function render() {
    Shop.cartCount(items);
    if (!items.length) {
      $("#cart-lines").innerHTML = '<div class="empty">购物车还是空的，<a href="/static/index.html">去逛逛</a></div>';
      $("#checkout-bar").hidden = true;
      return;
    }
    var available = items.filter(buyable);
    var unavailable = items.filter(function (item) { return !buyable(item); });
    $("#cart-lines").innerHTML = available.map(line).join("") +
      (unavailable.length
        ? '<h2 class="group-title unavailable" id="unavailable-title">无货（' + unavailable.length + '）' +
          '<span class="muted small"> 以下商品暂时无法购买，不计入合计</span></h2>' +
          '<div id="unavailable-lines">' + unavailable.map(line).join("") + "</div>"
        : "");
    var selected = available.filter(function (item) { return item.selected; });
    var total = selected.reduce(function (sum, item) { return sum + cents(item.price) * item.count; }, 0);
    var count = selected.reduce(function (sum, item) { return sum + item.count; }, 0);
    $("#selected-count").textContent = count;
    $("#cart-total").textContent = Shop.money(yuan(total));
    $("#select-all").checked = available.length > 0 && selected.length === available.length;
    $("#select-all").disabled = !available.length;
    $("#go-buy").disabled = !selected.length;
    $("#checkout-bar").hidden = false;
  }

  function nameOf(skuId) {
    var found = items.filter(function (item) { return item.id === skuId; })[0];
    return found ? found.name : null;
  }

  /* Untick, on the server too, every line that cannot be bought (one call each, in turn). */
  function untickUnavailable(answer) {
    var stale = answer.data.filter(function (item) { return item.selected && !buyable(item); });
    return stale.reduce(function (done, item) {
      return done.then(function (latest) {
        return Shop.api("PUT", cartUrl, {body: {state: "unselect", sku_id: item.id}}).then(function (next) {
          return next.code === 200 ? next : latest;
        });
      });
    }, Promise.resolve(answer));
  }

  /* One cart call; the answer is the whole cart, so the page simply re-renders it. */
  function call(method, body) {
    if (busy) { return Promise.resolve(); }
    busy = true;
    return Shop.api(method, cartUrl, {body: body}).then(function (answer) {
      if (answer.code === 200) { return untickUnavailable(answer); }
      return answer;
    }).then(function (answer) {
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
      Shop.ask("确定从购物车中删除「" + nameOf(skuId) + "」吗？", "删除", "保留").then(function (yes) {
        if (yes) { call("DELETE", {sku_id: skuId}); }
      });
    }
  });

  $("#select-all").addEventListener("change", function (event) {
    call("PUT", {state: event.target.checked ? "selectall" : "unselectall"});
  });

  $("#go-buy").addEventListener("click", function () {
    if (!items.some(function (item) { return item.selected && buyable(item); })) {
      Shop.notice("请先勾选要结算的商品");
      return;
    }
    window.location.href = "/static/orderConfirm.html?settlement_type=0";
  });

  // a note left by another page (再次购买 on my orders: what could not be put back), shown once loaded
  var note = null;
  try {
    note = JSON.parse(window.sessionStorage.getItem("dashop_cart_note") || "null");
    window.sessionStorage.removeItem("dashop_cart_note");
  } catch (e) { /* private mode */ }

  Shop.refreshOnBack();
  call("GET").then(function () { if (note && note.text) { Shop.notice(note.text, note.kind); } });
})(window.Shop);
