/* 达达商城 storefront: what every page shares — the token, API calls, messages, the header.
 *
 * Plain browser JavaScript (no build step). The token and the user name live in localStorage under
 * the original pages' keys (dashop_token, dashop_user). Every API answer carries a `code`; the
 * helpers here turn the codes a shopper can meet into sentences, and send an expired session to
 * the login page, which brings the shopper back afterwards.
 */
(function (window, document) {
  "use strict";

  var TOKEN_KEY = "dashop_token";
  var USER_KEY = "dashop_user";
  var IMAGE_BASE = "/static/images/";

  var STATUS_NAMES = {1: "待付款", 2: "待发货", 3: "待收货", 4: "已完成", 5: "已关闭"};

  // What a shopper reads for each business code (when the page has nothing more precise to say).
  var MESSAGES = {
    403: "登录已过期，请重新登录",
    10101: "该用户名已被注册，请换一个",
    10102: "用户名或密码错误",
    30101: "商品不存在或已下架",
    30102: "提交的信息有误，请检查后重试",
    30103: "商品库存不足",
    50100: "您还没有收货地址，请先添加一个",
    50101: "没有可结算的商品：请先在购物车中勾选商品",
    50102: "收货地址无效，请重新选择收货地址",
    50103: "商品库存不足",
    50104: "订单正在提交中，请稍候",
    50105: "支付结果确认中，请稍后刷新",
    50106: "订单不存在",
    50107: "订单状态已变化，不能进行此操作",
    50108: "支付结果校验失败，这不是一次有效的支付返回",
    50109: "提交的信息有误，请检查后重试"
  };

  function token() { return window.localStorage.getItem(TOKEN_KEY); }
  function user() { return window.localStorage.getItem(USER_KEY); }

  function saveLogin(username, newToken) {
    window.localStorage.setItem(TOKEN_KEY, newToken);
    window.localStorage.setItem(USER_KEY, username);
  }

  function clearLogin() {
    window.localStorage.removeItem(TOKEN_KEY);
    window.localStorage.removeItem(USER_KEY);
  }

  function here() { return window.location.pathname + window.location.search + window.location.hash; }

  /* Only a page of this store may be a `next` target (no open redirect to another site). The target
   * is parsed the way the browser will read it (which drops tabs and newlines and reads `\` as `/`),
   * so `/%09/evil.example` or `/\evil.example` cannot turn into another host; what is returned is the
   * parsed path, exactly what was checked. */
  function safeNext(next) {
    var fallback = "/static/index.html";
    if (typeof next !== "string" || next.charAt(0) !== "/") { return fallback; }  // a path, nothing else
    var url;
    try { url = new URL(next, window.location.origin); } catch (e) { return fallback; }
    if (url.origin !== window.location.origin) { return fallback; }
    if (url.pathname.indexOf("/static/login.html") === 0) { return fallback; }
    // `/.//x` parses to the path `//x`, which as a location would name the host x again
    if (url.pathname.indexOf("//") === 0) { return fallback; }
    return url.pathname + url.search + url.hash;
  }

  function goLogin(reason) {
    clearLogin();
    var url = "/static/login.html?next=" + encodeURIComponent(here());
    if (reason) { url += "&reason=" + encodeURIComponent(reason); }
    window.location.replace(url);
  }

  /* Pages that need a buyer call this first; false means "redirecting to the login page". */
  function requireLogin() {
    if (token() && user()) { return true; }
    goLogin("login");
    return false;
  }

  function LoginRedirect() { this.name = "LoginRedirect"; this.message = "redirecting to login"; }

  /* fetch() a JSON endpoint. Resolves with the parsed body ({code, data, errmsg, ...}) for any
   * answer that has a `code` (business outcomes included); a missing/expired login redirects to
   * the login page (and the promise rejects with LoginRedirect); a network failure or a non-JSON
   * answer rejects with an Error whose message is meant for the shopper. */
  function api(method, path, options) {
    options = options || {};
    var url = path;
    if (options.query) {
      var qs = typeof options.query === "string" ? options.query : new URLSearchParams(options.query).toString();
      if (qs) { url += (url.indexOf("?") >= 0 ? "&" : "?") + qs; }
    }
    var headers = {"Accept": "application/json"};
    if (options.auth !== false && token()) { headers.authorization = token(); }
    var init = {method: method, headers: headers, cache: "no-store"};
    if (options.body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(options.body);
    }
    Object.keys(options.headers || {}).forEach(function (name) { headers[name] = options.headers[name]; });
    return window.fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var body;
        try { body = JSON.parse(text); } catch (e) { body = null; }
        if (!body || typeof body.code === "undefined") {
          throw new Error(response.status >= 500 ? "服务器开小差了，请稍后重试" : "请求失败（HTTP " + response.status + "）");
        }
        if (body.code === 403 && options.auth !== false && options.loginRedirect !== false) {
          goLogin("expired");
          throw new LoginRedirect();
        }
        return body;
      });
    }, function () {
      throw new Error("网络连接失败，请检查网络后重试");
    });
  }

  function message(body, fallback) {
    if (!body) { return fallback || "操作失败，请稍后重试"; }
    if (body.code === 500) { return "服务器开小差了，请稍后重试"; }
    return MESSAGES[body.code] || body.errmsg || fallback || "操作失败，请稍后重试";
  }

  /* The SKU id in `商品[12]库存不足` / `商品[12]不存在或已下架`, or null. */
  function skuIdIn(errmsg) {
    var match = /商品\[(\d+)\]/.exec(errmsg || "");
    return match ? Number(match[1]) : null;
  }

  /* What to tell the shopper about one SKU they cannot have `wanted` of: 已售罄 when none is left
   * (reducing the quantity would not help), 库存不足 with what is left otherwise, 已下架 when it is
   * off the shelf. `sku` is {name, stock, is_launched} as far as known. */
  function unavailableText(sku, wanted) {
    if (!sku || sku.is_launched === false) { return "已下架"; }
    if (typeof sku.stock === "number" && sku.stock <= 0) { return "已售罄"; }
    if (typeof sku.stock === "number" && wanted > sku.stock) { return "库存不足，仅剩 " + sku.stock + " 件"; }
    return "";
  }

  /* The sentence for a 50103 (`商品[12]库存不足`), naming the item and saying whether it is sold out:
   * the SKU's stock is asked from the catalog, so a sold-out item never gets "reduce the quantity".
   * `names` maps SKU id → name when the page knows it. Resolves with the sentence. */
  function stockMessage(body, names) {
    var skuId = skuIdIn(body && body.errmsg);
    var known = skuId !== null && names ? names[skuId] : null;
    var label = function (name) { return name ? "「" + name + "」" : "商品"; };
    if (skuId === null) { return Promise.resolve("商品库存不足，请减少购买数量或选择其他商品"); }
    return api("GET", "/v1/goods/skus/" + skuId, {auth: false}).then(function (answer) {
      if (answer.code !== 200 || !answer.data) {
        return label(known) + "已下架，请选择其他商品";
      }
      var sku = answer.data;
      if (sku.stock <= 0) { return label(known || sku.name) + "已售罄，请删除该商品或选择其他商品"; }
      return label(known || sku.name) + "库存不足，仅剩 " + sku.stock + " 件，请减少购买数量";
    }, function () { return label(known) + "库存不足，请减少购买数量或选择其他商品"; });
  }

  /* One of the buyer's orders by id, from the order list (newest first; a few pages at most), or null. */
  function findOrder(orderId) {
    var PAGE_SIZE = 50;
    function page(n) {
      return api("GET", "/v1/orders/processing/", {query: {status: 1, order_status: 0, page: n, page_size: PAGE_SIZE}})
        .then(function (body) {
          if (body.code !== 200) { return null; }
          var found = (body.data.orders_list || []).filter(function (o) { return o.order_id === orderId; })[0];
          if (found) { return found; }
          return n < 4 && n * PAGE_SIZE < (body.data.total || 0) ? page(n + 1) : null;
        });
    }
    return page(1);
  }

  /* Count down to an order's `pay_deadline` ("YYYY-MM-DD HH:MM:SS", Asia/Shanghai) in `el`. Without a
   * deadline (an API that does not send one) the element stays hidden. `onExpired` runs once at zero.
   * Returns a function that stops the clock. */
  function countdown(el, deadline, onExpired) {
    var end = deadline ? Date.parse(String(deadline).replace(" ", "T") + "+08:00") : NaN;
    if (!el) { return function () {}; }
    if (isNaN(end)) { el.hidden = true; return function () {}; }
    var timer = null;
    function tick() {
      var left = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = left % 60;
      el.querySelector(".clock").textContent = (minutes ? minutes + " 分 " : "") + ("0" + seconds).slice(-2) + " 秒";
      if (left <= 0) {
        window.clearInterval(timer);
        el.classList.add("expired");
        if (onExpired) { onExpired(); }
      }
    }
    el.innerHTML = '请在 <b class="clock"></b> 内完成支付，超时订单将自动关闭';
    el.hidden = false;
    timer = window.setInterval(tick, 1000);
    tick();
    return function () { window.clearInterval(timer); };
  }

  // ---- formatting -------------------------------------------------------------------------

  function esc(value) {
    return String(value === null || value === undefined ? "" : value)
      .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function money(value) { return "¥" + (value === null || value === undefined ? "0.00" : String(value)); }

  function attrs(names, values) {
    names = names || [];
    values = values || [];
    return names.map(function (name, i) { return name + "：" + (values[i] === undefined ? "" : values[i]); }).join("  ");
  }

  function image(baseUrl, file) {
    if (!file) { return ""; }
    if (/^(https?:)?\/\//.test(file) || file.charAt(0) === "/") { return file; }
    return (baseUrl || IMAGE_BASE) + file;
  }

  function params() { return new URLSearchParams(window.location.search); }

  /* A random key, made in the browser: crypto.randomUUID where the page is a secure context,
   * getRandomValues (available everywhere) otherwise. */
  function newKey() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID().replace(/-/g, ""); }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function sleep(ms) { return new Promise(function (resolve) { window.setTimeout(resolve, ms); }); }

  // ---- page furniture ---------------------------------------------------------------------

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  /* The header: logo, navigation (with the cart count when logged in), who is logged in.
   * `active` names the current page. */
  function header(active) {
    var el = $("#site-header");
    if (!el) { return; }
    var links = [["index", "/static/index.html", "全部商品"], ["cart", "/static/cart.html", "购物车"],
                 ["orders", "/static/myOrders.html", "我的订单"], ["addresses", "/static/addresses.html", "收货地址"]];
    var nav = links.map(function (link) {
      var badge = link[0] === "cart" ? ' <span class="badge" id="cart-count" hidden></span>' : "";
      return '<a id="nav-' + link[0] + '" href="' + link[1] + '"' +
        (active === link[0] ? ' class="active" aria-current="page"' : "") + ">" + link[2] + badge + "</a>";
    }).join("");
    var who = user()
      ? '<span class="who">您好，<b id="current-user">' + esc(user()) + '</b></span><a href="#" id="logout">退出</a>'
      : '<a id="nav-login" href="/static/login.html?next=' + encodeURIComponent(here()) + '">登录 / 注册</a>';
    el.innerHTML = '<div class="bar"><a class="logo" href="/static/index.html">达达商城<small>DADASHOP</small></a>' +
      '<nav aria-label="主导航">' + nav + '</nav><div class="account">' + who + "</div></div>";
    var logout = $("#logout");
    if (logout) {
      logout.addEventListener("click", function (event) {
        event.preventDefault();
        clearLogin();
        window.location.href = "/static/index.html";
      });
    }
    if (token() && user() && active !== "cart") {
      // the count is a courtesy: a failure or an expired login here says nothing (the page itself will)
      api("GET", "/v1/carts/" + encodeURIComponent(user()), {loginRedirect: false}).then(function (body) {
        if (body.code === 200) { cartCount(body.data); }
      }, function () {});
    }
  }

  /* The header's cart count: the number of pieces in the cart (a cart answer's list, or a number). */
  function cartCount(items) {
    var el = $("#cart-count");
    if (!el) { return; }
    var count = typeof items === "number" ? items
      : (items || []).reduce(function (sum, item) { return sum + (item.count || 0); }, 0);
    el.textContent = count > 99 ? "99+" : String(count);
    el.hidden = count <= 0;
    $("#nav-cart").setAttribute("aria-label", "购物车，" + count + " 件商品");
  }

  /* A message in the page's banner (#notice): kind is "error", "ok" or "info". Errors are announced
   * at once by screen readers (role=alert), the others politely (role=status). With `html` the text
   * is markup the page built itself (escaped values and its own links). */
  function notice(text, kind, html) {
    var el = $("#notice");
    if (!el) { return; }
    if (!text) { el.hidden = true; el.textContent = ""; return; }
    kind = kind || "error";
    el.setAttribute("role", kind === "error" ? "alert" : "status");
    el.className = "notice " + kind;
    if (html) { el.innerHTML = text; } else { el.textContent = text; }
    el.hidden = false;
    if (el.scrollIntoView && kind !== "info") { el.scrollIntoView({block: "nearest"}); }
  }

  /* A short message that fades away (add to cart and the like). */
  function toast(text, kind) {
    var el = $("#toast");
    if (!el) {
      el = document.createElement("div");
      el.id = "toast";
      el.setAttribute("role", "status");
      document.body.appendChild(el);
    }
    el.className = "toast show " + (kind || "ok");
    el.textContent = text;
    window.clearTimeout(toast.timer);
    toast.timer = window.setTimeout(function () { el.className = "toast " + (kind || "ok"); }, 2600);
  }

  /* An in-page confirmation dialog; resolves true (the action) or false (keep things as they are).
   * A modal dialog: focus starts on the safe button (cancel), Tab stays inside, Esc cancels, and
   * focus goes back where it was afterwards. */
  function ask(text, okLabel, cancelLabel) {
    return new Promise(function (resolve) {
      var before = document.activeElement;
      var shade = document.createElement("div");
      shade.className = "dialog-shade";
      shade.innerHTML = '<div class="dialog" role="dialog" aria-modal="true" aria-labelledby="dialog-text">' +
        '<p class="dialog-text" id="dialog-text">' + esc(text) + '</p><div class="dialog-buttons">' +
        '<button type="button" class="btn" id="dialog-cancel">' + esc(cancelLabel || "取消") + "</button>" +
        '<button type="button" class="btn primary" id="dialog-ok">' + esc(okLabel || "确定") + "</button></div></div>";
      document.body.appendChild(shade);
      var buttons = $all("button", shade);
      var done = function (answer) {
        document.removeEventListener("keydown", onKey, true);
        shade.remove();
        if (before && before.focus && document.contains(before)) { before.focus(); }
        resolve(answer);
      };
      function onKey(event) {
        if (event.key === "Escape") {
          event.preventDefault();
          done(false);
        } else if (event.key === "Tab") {  // keep focus inside the dialog
          var i = buttons.indexOf(document.activeElement);
          var next = event.shiftKey ? (i <= 0 ? buttons.length - 1 : i - 1) : (i + 1) % buttons.length;
          event.preventDefault();
          buttons[next].focus();
        }
      }
      document.addEventListener("keydown", onKey, true);
      $("#dialog-ok", shade).addEventListener("click", function () { done(true); });
      $("#dialog-cancel", shade).addEventListener("click", function () { done(false); });
      shade.addEventListener("click", function (event) { if (event.target === shade) { done(false); } });
      $("#dialog-cancel", shade).focus();
    });
  }

  /* A page restored from the back/forward cache shows what was true when it was left: load it anew. */
  function refreshOnBack() {
    window.addEventListener("pageshow", function (event) { if (event.persisted) { window.location.reload(); } });
  }

  /* Handle a failed promise of a page action: login redirects are silent, the rest is shown. */
  function failed(error) {
    if (error && error.name === "LoginRedirect") { return; }
    notice(error && error.message ? error.message : "操作失败，请稍后重试", "error");
  }

  window.Shop = {
    STATUS_NAMES: STATUS_NAMES, token: token, user: user, saveLogin: saveLogin, clearLogin: clearLogin,
    safeNext: safeNext, goLogin: goLogin, requireLogin: requireLogin, api: api, message: message,
    skuIdIn: skuIdIn, stockMessage: stockMessage, esc: esc, money: money, attrs: attrs, image: image,
    params: params, newKey: newKey, sleep: sleep, $: $, $all: $all, header: header, notice: notice,
    toast: toast, ask: ask, failed: failed, refreshOnBack: refreshOnBack, cartCount: cartCount,
    unavailableText: unavailableText, findOrder: findOrder, countdown: countdown
  };
})(window, document);
