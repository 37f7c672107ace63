/* login.html: log in (POST /v1/tokens) or register (POST /v1/users), then go back to `next`. */
(function (Shop) {
  "use strict";
  var $ = Shop.$;
  var query = Shop.params();
  var next = Shop.safeNext(query.get("next"));

  Shop.header("login");
  if (query.get("reason") === "expired") {
    Shop.notice("登录已过期，请重新登录", "info");
  } else if (query.get("reason") === "login") {
    Shop.notice("请先登录", "info");
  }

  /* Two tabs (WAI-ARIA tabs pattern): the chosen one is aria-selected and the only one in the Tab
   * order; the arrow keys, Home and End move between them. */
  var TABS = ["login", "register"];
  function showTab(name, focus) {
    TABS.forEach(function (tab) {
      var button = $("#tab-" + tab);
      var chosen = tab === name;
      button.classList.toggle("active", chosen);
      button.setAttribute("aria-selected", chosen ? "true" : "false");
      button.tabIndex = chosen ? 0 : -1;
      $("#" + tab + "-panel").hidden = !chosen;
    });
    if (focus) { $("#tab-" + name).focus(); }
    Shop.notice("");
  }
  TABS.forEach(function (tab, i) {
    var button = $("#tab-" + tab);
    button.addEventListener("click", function () { showTab(tab); });
    button.addEventListener("keydown", function (event) {
      var to = {ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1}[event.key];
      if (to === undefined) { return; }
      event.preventDefault();
      showTab(TABS[(to + TABS.length) % TABS.length], true);
    });
  });

  function done(body, fallbackName) {
    Shop.saveLogin(body.username || fallbackName, body.data.token);
    window.location.replace(next);
  }

  $("#login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var username = $("#username").value.trim();
    var password = $("#password").value;
    if (!username || !password) { Shop.notice("请输入用户名和密码"); return; }
    var button = $("#login-btn");
    button.disabled = true;
    Shop.notice("");
    Shop.api("POST", "/v1/tokens", {body: {username: username, password: password}, auth: false})
      .then(function (body) {
        if (body.code === 200) { done(body, username); return; }
        Shop.notice(Shop.message(body));
        button.disabled = false;
      })
      .catch(function (error) { button.disabled = false; Shop.failed(error); });
  });

  $("#register-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var form = {
      uname: $("#reg-username").value.trim(), password: $("#reg-password").value,
      email: $("#reg-email").value.trim(), phone: $("#reg-phone").value.trim()
    };
    if (!/^[A-Za-z0-9_]{3,32}$/.test(form.uname)) { Shop.notice("用户名需为3-32位字母、数字或下划线"); return; }
    if (form.password.length < 6) { Shop.notice("密码至少6位"); return; }
    if (form.phone && !/^1\d{10}$/.test(form.phone)) { Shop.notice("请输入11位手机号"); return; }
    if (!form.email) { delete form.email; }
    if (!form.phone) { delete form.phone; }
    var button = $("#register-btn");
    button.disabled = true;
    Shop.notice("");
    Shop.api("POST", "/v1/users", {body: form, auth: false})
      .then(function (body) {
        if (body.code === 200) { done(body, form.uname); return; }
        Shop.notice(body.code === 50109 ? "注册信息有误：" + body.errmsg : Shop.message(body));
        button.disabled = false;
      })
      .catch(function (error) { button.disabled = false; Shop.failed(error); });
  });

  $("#username").focus();
})(window.Shop);
