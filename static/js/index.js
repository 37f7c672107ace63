/* index.html: the product list, one card per product (GET /v1/goods/spus?page=&page_size=&q=&category=):
 * price range, image, stock; a search box and the category filter from the answer's `categories`.
 * Search, category and page live in the URL (?q=&category=&page=), so reload and Back keep them.
 * A card leads to the product page, where sizes and colours are chosen. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;
  var PAGE_SIZE = 12;

  Shop.header("index");

  var query = Shop.params();
  var q = (query.get("q") || "").trim().slice(0, 32);
  var category = (query.get("category") || "").slice(0, 32);
  var page = Math.max(1, parseInt(query.get("page"), 10) || 1);
  $("#search-q").value = q;
  $("#search-category").value = category;
  if (!category) { $("#search-category").disabled = true; }  // not sent as an empty parameter

  function link(changes) {
    var next = {q: q, category: category, page: 1};
    Object.keys(changes).forEach(function (name) { next[name] = changes[name]; });
    var params = new URLSearchParams();
    if (next.q) { params.set("q", next.q); }
    if (next.category) { params.set("category", next.category); }
    if (next.page > 1) { params.set("page", next.page); }
    var text = params.toString();
    return "/static/index.html" + (text ? "?" + text : "");
  }

  function priceRange(spu) {
    return spu.price_min === spu.price_max ? Shop.money(spu.price_min)
      : Shop.money(spu.price_min) + " – " + Shop.money(spu.price_max);
  }

  function card(spu, baseUrl) {
    var soldOut = spu.stock <= 0;
    var stock = soldOut ? "已售罄" : (spu.stock <= 5 ? "仅剩 " + spu.stock + " 件" : "有货");
    return '<a class="product" data-spu-id="' + spu.id + '" href="/static/product.html?id=' + spu.id + '">' +
      '<img src="' + esc(Shop.image(baseUrl, spu.default_image_url)) + '" alt="" loading="lazy">' +
      '<span class="name">' + esc(spu.name) + "</span>" +
      '<span class="caption">' + esc(spu.caption || "") + "</span>" +
      '<span class="meta"><span class="price">' + esc(priceRange(spu)) + "</span>" +
      '<span class="stock' + (spu.stock <= 5 ? " low" : "") + '">' + esc(stock) + "</span></span></a>";
  }

  function categories(list) {
    var all = [{name: "", label: "全部"}].concat((list || []).map(function (c) {
      return {name: c.name, label: c.name + "（" + c.products + "）"};
    }));
    $("#categories").innerHTML = all.map(function (c) {
      var current = c.name === category;
      return '<a class="chip' + (current ? " active" : "") + '" data-category="' + esc(c.name) + '" href="' +
        esc(link({category: c.name})) + '"' + (current ? ' aria-current="page"' : "") + ">" + esc(c.label) + "</a>";
    }).join("");
  }

  function pager(total) {
    var pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    if (pages <= 1) { $("#pager").innerHTML = ""; return; }
    $("#pager").innerHTML =
      (page > 1 ? '<a class="btn" id="prev-page" href="' + esc(link({page: page - 1})) + '">上一页</a>' : "") +
      '<span class="current">第 ' + page + " / " + pages + " 页</span>" +
      (page < pages ? '<a class="btn" id="next-page" href="' + esc(link({page: page + 1})) + '">下一页</a>' : "");
  }

  function load() {
    var params = {page: page, page_size: PAGE_SIZE};
    if (q) { params.q = q; }
    if (category) { params.category = category; }
    Shop.api("GET", "/v1/goods/spus", {query: params, auth: false}).then(function (body) {
      if (body.code !== 200) { Shop.notice(Shop.message(body, "商品加载失败")); return; }
      var spus = body.data.spus || [];
      categories(body.data.categories);
      if (q || category) {
        $("#list-title").textContent = q ? "搜索「" + q + "」" : category;
        document.title = $("#list-title").textContent + " - 达达商城";
        $("#result-count").textContent = "共 " + body.data.total + " 件商品" +
          (q && category ? "（类别：" + category + "）" : "");
      }
      $("#products").innerHTML = spus.length
        ? spus.map(function (spu) { return card(spu, body.base_url); }).join("")
        : '<div class="empty">没有找到' + (q ? "与「" + esc(q) + "」相关的" : "") + '商品，' +
          '<a href="/static/index.html">看看全部商品</a></div>';
      pager(body.data.total || 0);
    }).catch(Shop.failed);
  }

  Shop.refreshOnBack();  // stock and the cart count may have changed meanwhile
  load();
})(window.Shop);
