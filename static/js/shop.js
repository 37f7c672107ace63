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

  /* Only a page of this store may be a `next` target (no open redirect to another site). */
  function safeNext(next) {
    if (!next || next.charAt(0) !== "/" || next.indexOf("//") === 0 || next.indexOf("\\") >= 0) {
      return "/static/index.html";
    }
    if (next.indexOf("/static/login.html") === 0) { return "/static/index.html"; }
    return next;
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
        if (body.code === 403 && options.auth !== false) {
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

  /* "「name」库存不足…" for a 50103, naming the item; `names` maps SKU id → name when the page knows it,
   * otherwise the name is asked from the catalog. Resolves with the sentence. */
  function stockMessage(body, names) {
    var skuId = skuIdIn(body && body.errmsg);
    var known = skuId !== null && names ? names[skuId] : null;
    var sentence = function (name) {
      return name ? "「" + name + "」库存不足，请减少购买数量或选择其他商品" : "商品库存不足，请减少购买数量或选择其他商品";
    };
    if (known || skuId === null) { return Promise.resolve(sentence(known)); }
    return api("GET", "/v1/goods/skus/" + skuId, {auth: false}).then(function (answer) {
      return sentence(answer.code === 200 && answer.data ? answer.data.name : null);
    }, function () { return sentence(null); });
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

  /* The header: logo, navigation, who is logged in. `active` names the current page. */
  function header(active) {
    var el = $("#site-header");
    if (!el) { return; }
    var links = [["index", "/static/index.html", "全部商品"], ["cart", "/static/cart.html", "购物车"],
                 ["orders", "/static/myOrders.html", "我的订单"]];
    var nav = links.map(function (link) {
      return '<a id="nav-' + link[0] + '" href="' + link[1] + '"' + (active === link[0] ? ' class="active"' : "") +
        ">" + link[2] + "</a>";
    }).join("");
    var who = user()
      ? '<span class="who">您好，<b id="current-user">' + esc(user()) + '</b></span><a href="#" id="logout">退出</a>'
      : '<a id="nav-login" href="/static/login.html?next=' + encodeURIComponent(here()) + '">登录 / 注册</a>';
    el.innerHTML = '<div class="bar"><a class="logo" href="/static/index.html">达达商城<small>DADASHOP</small></a>' +
      '<nav>' + nav + '</nav><div class="account">' + who + "</div></div>";
    var logout = $("#logout");
    if (logout) {
      logout.addEventListener("click", function (event) {
        event.preventDefault();
        clearLogin();
        window.location.href = "/static/index.html";
      });
    }
  }

  /* A message in the page's banner (#notice): kind is "error", "ok" or "info". */
  function notice(text, kind) {
    var el = $("#notice");
    if (!el) { return; }
    if (!text) { el.hidden = true; el.textContent = ""; return; }
    el.className = "notice " + (kind || "error");
    el.textContent = text;
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

  /* An in-page confirmation dialog; resolves true (确定) or false (取消). */
  function ask(text, okLabel) {
    return new Promise(function (resolve) {
      var shade = document.createElement("div");
      shade.className = "dialog-shade";
      shade.innerHTML = '<div class="dialog" role="dialog" aria-modal="true"><p class="dialog-text">' + esc(text) +
        '</p><div class="dialog-buttons"><button type="button" class="btn" id="dialog-cancel">取消</button>' +
        '<button type="button" class="btn primary" id="dialog-ok">' + esc(okLabel || "确定") + "</button></div></div>";
      document.body.appendChild(shade);
      var done = function (answer) { shade.remove(); resolve(answer); };
      $("#dialog-ok", shade).addEventListener("click", function () { done(true); });
      $("#dialog-cancel", shade).addEventListener("click", function () { done(false); });
      $("#dialog-ok", shade).focus();
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
    toast: toast, ask: ask, failed: failed, refreshOnBack: refreshOnBack
  };
})(window, document);
