/* addresses.html: the address book — list, add (with the province/city/district picker), delete, and
 * make one the default: GET|POST /v1/users/<username>/address, PUT .../address/<id> (make default),
 * DELETE .../address/<id>.
 *
 * There is no edit button: the API cannot change an address yet, and editing by deleting and adding
 * again behind the buyer's back is not offered. The form is ready for it (fillForm takes a stored
 * address apart again); the button comes with the API. */
(function (Shop, Region) {
  "use strict";
  var $ = Shop.$;
  var esc = Shop.esc;
  var MAX_ADDRESSES = 20;
  var addresses = [];

  Shop.header("addresses");
  if (!Shop.requireLogin()) { return; }
  var baseUrl = "/v1/users/" + encodeURIComponent(Shop.user()) + "/address";
  var picker = Region.picker($("#addr-province"), $("#addr-city"), $("#addr-district"));
  picker.ready.catch(function () { $("#addr-error").textContent = "地区数据加载失败，请刷新页面重试"; });

  function card(a) {
    return '<div class="address-card" data-address-id="' + a.id + '">' +
      '<span class="who receiver">' + esc(a.receiver) + "</span><span>" + esc(a.receiver_mobile) + "</span>" +
      (a.is_default ? '<span class="tag default">默认</span>' : "") +
      (a.tag ? '<span class="tag">' + esc(a.tag) + "</span>" : "") +
      '<div class="actions">' +
      (a.is_default ? "" : '<button type="button" class="btn link make-default">设为默认</button>') +
      '<button type="button" class="btn link delete">删除</button></div>' +
      '<div class="text">' + esc(a.address) + (a.postcode ? ' <span class="muted small">' + esc(a.postcode) + "</span>" : "") +
      "</div></div>";
  }

  function render() {
    var sorted = addresses.slice().sort(function (a, b) { return (b.is_default ? 1 : 0) - (a.is_default ? 1 : 0); });
    $("#address-list").innerHTML = sorted.length ? sorted.map(card).join("")
      : '<div class="empty">还没有收货地址，点「新增收货地址」添加一个。</div>';
    $("#address-count").textContent = "（" + addresses.length + " / " + MAX_ADDRESSES + "）";
    $("#add-address").disabled = addresses.length >= MAX_ADDRESSES;
  }

  function load() {
    return Shop.api("GET", baseUrl).then(function (body) {
      if (body.code !== 200) { Shop.notice(Shop.message(body, "收货地址加载失败")); return; }
      addresses = body.data || [];
      render();
    }).catch(Shop.failed);
  }

  function openForm() {
    $("#address-form").reset();
    picker.reset();
    $("#addr-error").textContent = "";
    $("#addr-default").checked = !addresses.length;
    $("#form-section").hidden = false;
    $("#addr-receiver").focus();
  }

  function closeForm() {
    $("#form-section").hidden = true;
    $("#add-address").focus();
  }

  /* A stored address back into the form (for editing, once the API can change an address). */
  function fillForm(address) {
    return picker.ready.then(function () {
      var parts = Region.split(picker.data, address.address);
      picker.set(parts);
      $("#addr-receiver").value = address.receiver || "";
      $("#addr-phone").value = address.receiver_mobile || "";
      $("#addr-detail").value = parts.detail;
      $("#addr-postcode").value = address.postcode || "";
      $("#addr-tag").value = address.tag || "";
      $("#addr-default").checked = !!address.is_default;
    });
  }

  function formValues() {
    var region = picker.value();
    var detail = $("#addr-detail").value.trim();
    var form = {
      receiver: $("#addr-receiver").value.trim(), receiver_phone: $("#addr-phone").value.trim(),
      postcode: $("#addr-postcode").value.trim(), tag: $("#addr-tag").value.trim(),
      is_default: $("#addr-default").checked
    };
    var problem = !form.receiver ? "请填写收货人" :
      !/^1\d{10}$/.test(form.receiver_phone) ? "请填写11位手机号（以1开头）" :
      !region.province ? "请选择省份" : !region.city ? "请选择城市" : !region.district ? "请选择区县" :
      !detail ? "请填写详细地址" :
      (form.postcode && !/^\d{6}$/.test(form.postcode)) ? "邮政编码应为6位数字" : "";
    form.address = Region.compose(region, detail);
    if (!form.postcode) { delete form.postcode; }
    return {form: form, problem: problem};
  }

  $("#add-address").addEventListener("click", openForm);
  $("#cancel-address").addEventListener("click", closeForm);

  $("#address-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var checked = formValues();
    $("#addr-error").textContent = checked.problem;
    if (checked.problem) { return; }
    var button = $("#save-address");
    button.disabled = true;
    Shop.api("POST", baseUrl, {body: checked.form}).then(function (body) {
      button.disabled = false;
      if (body.code !== 200) {
        $("#addr-error").textContent = body.code === 50109 ? "地址信息有误：" + body.errmsg :
          body.code === 50102 ? body.errmsg : Shop.message(body);
        return;
      }
      Shop.toast("收货地址已保存");
      Shop.notice("");
      closeForm();
      return load();
    }).catch(function (error) { button.disabled = false; Shop.failed(error); });
  });

  $("#address-list").addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || button.disabled) { return; }
    var id = Number(button.closest(".address-card").getAttribute("data-address-id"));
    var address = addresses.filter(function (a) { return a.id === id; })[0];
    if (!address) { return; }
    if (button.classList.contains("make-default")) {
      button.disabled = true;
      Shop.api("PUT", baseUrl + "/" + id).then(function (body) {
        if (body.code !== 200) { Shop.notice(Shop.message(body)); button.disabled = false; return; }
        Shop.toast("已设为默认地址");
        return load();
      }).catch(function (error) { button.disabled = false; Shop.failed(error); });
    } else if (button.classList.contains("delete")) {
      Shop.ask("确定删除「" + address.receiver + " " + address.address + "」这个收货地址吗？" +
        "已下的订单不受影响。", "删除", "保留").then(function (yes) {
        if (!yes) { return; }
        Shop.api("DELETE", baseUrl + "/" + id).then(function (body) {
          if (body.code !== 200) { Shop.notice(Shop.message(body)); return; }
          Shop.toast("收货地址已删除");
          return load().then(function () { $("#add-address").focus(); });
        }).catch(Shop.failed);
      });
    }
  });

  Shop.refreshOnBack();
  load();
})(window.Shop, window.Region);
