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

  function showTab(name) {
    $("#tab-login").classList.toggle("active", name === "login");
    $("#tab-register").classList.toggle("active", name === "register");
    $("#login-form").hidden = name !== "login";
    $("#register-form").hidden = name !== "register";
    Shop.notice("");
  }
  $("#tab-login").addEventListener("click", function () { showTab("login"); });
  $("#tab-register").addEventListener("click", function () { showTab("register"); });

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
