/* index.html: the product list (GET /v1/goods/skus), add to cart, buy now. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;
  var PAGE_SIZE = 12;
  var names = {};  // sku id → name, for messages

  Shop.header("index");

  function card(sku, baseUrl) {
    names[sku.id] = sku.name;
    var soldOut = sku.stock <= 0;
    var stock = soldOut ? "已售罄" : (sku.stock <= 5 ? "仅剩 " + sku.stock + " 件" : "库存 " + sku.stock);
    return '<div class="product" data-sku-id="' + sku.id + '">' +
      '<img src="' + esc(Shop.image(baseUrl, sku.default_image_url)) + '" alt="' + esc(sku.name) + '" loading="lazy">' +
      '<div class="name">' + esc(sku.name) + "</div>" +
      '<div class="caption">' + esc(sku.caption || "") + "</div>" +
      '<div class="meta"><span class="price">' + esc(Shop.money(sku.price)) + "</span>" +
      '<span class="stock' + (sku.stock <= 5 ? " low" : "") + '">' + esc(stock) + "</span></div>" +
      '<div class="actions">' +
      '<button type="button" class="btn add-cart"' + (soldOut ? " disabled" : "") + ">加入购物车</button>" +
      '<button type="button" class="btn primary buy-now"' + (soldOut ? " disabled" : "") + ">立即购买</button>" +
      "</div></div>";
  }

  function pager(page, total) {
    var pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (pages <= 1) { $("#pager").innerHTML = ""; return; }
    $("#pager").innerHTML =
      (page > 1 ? '<a class="btn" href="?page=' + (page - 1) + '">上一页</a>' : "") +
      '<span class="current">第 ' + page + " / " + pages + " 页</span>" +
      (page < pages ? '<a class="btn" href="?page=' + (page + 1) + '">下一页</a>' : "");
  }

  function load() {
    var page = Math.max(1, parseInt(Shop.params().get("page"), 10) || 1);
    Shop.api("GET", "/v1/goods/skus", {query: {page: page, page_size: PAGE_SIZE}, auth: false}).then(function (body) {
      if (body.code !== 200) { Shop.notice(Shop.message(body, "商品加载失败")); return; }
      var skus = body.data.skus;
      $("#products").innerHTML = skus.length
        ? skus.map(function (sku) { return card(sku, body.base_url); }).join("")
        : '<div class="empty">暂无商品</div>';
      pager(body.data.page, body.data.total);
    }).catch(Shop.failed);
  }

  function addToCart(skuId, button) {
    if (!Shop.requireLogin()) { return; }
    button.disabled = true;
    Shop.api("POST", "/v1/carts/" + encodeURIComponent(Shop.user()), {body: {sku_id: skuId, count: 1}})
      .then(function (body) {
        button.disabled = false;
        if (body.code === 200) {
          Shop.cartCount(body.data);
          Shop.toast("已加入购物车：" + names[skuId]);
        } else if (body.code === 30103) {  // the cart module's codes: 30103 over stock, 30101 no such SKU
          Shop.stockMessage(body, names).then(function (text) { Shop.toast(text, "error"); });
        } else if (body.code === 30101) {
          Shop.toast("「" + names[skuId] + "」已下架", "error");
        } else {
          Shop.toast(Shop.message(body), "error");
        }
      })
      .catch(function (error) { button.disabled = false; Shop.failed(error); });
  }

  $("#products").addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || button.disabled) { return; }
    var skuId = Number(button.closest(".product").getAttribute("data-sku-id"));
    if (button.classList.contains("add-cart")) {
      addToCart(skuId, button);
    } else if (button.classList.contains("buy-now")) {
      var target = "/static/orderConfirm.html?settlement_type=1&sku_id=" + skuId + "&buy_num=1";
      if (!Shop.token()) {
        window.location.href = "/static/login.html?reason=login&next=" + encodeURIComponent(target);
        return;
      }
      window.location.href = target;
    }
  });

  Shop.refreshOnBack();  // stock and the cart count may have changed meanwhile
  load();
})(window.Shop);
