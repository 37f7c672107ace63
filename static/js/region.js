/* The province → city → district picker of the address forms (three <select>s), on the data shipped
 * in /static/data/pca.json (no network beyond this server).
 *
 *   var picker = Region.picker(provinceSelect, citySelect, districtSelect);
 *   picker.ready.then(...);             // the data is in and the provinces are listed
 *   picker.value()                      // {province, city, district} ("" for what is not chosen yet)
 *   picker.set({province, city, district})
 *   Region.compose(value, "世纪大道 100 号")   // → "上海市浦东新区 世纪大道 100 号"
 *   Region.split(picker.data, address)   // the reverse, for filling a form from a stored address
 */
(function (window) {
  "use strict";

  var DATA_URL = "/static/data/pca.json";
  // cities that only group districts: shown in the picker, not written into an address
  var PLACEHOLDER_CITIES = ["市辖区", "县", "省直辖县级行政区划", "自治区直辖县级行政区划"];
  var loading = null;

  function load() {
    if (!loading) {
      loading = window.fetch(DATA_URL).then(function (response) {
        if (!response.ok) { throw new Error("地区数据加载失败"); }
        return response.json();
      });
      loading.catch(function () { loading = null; });  // a later picker may try again
    }
    return loading;
  }

  function fill(select, names, prompt) {
    select.innerHTML = '<option value="">' + prompt + "</option>" + names.map(function (name) {
      return "<option>" + String(name).replace(/&/g, "&amp;").replace(/</g, "&lt;") + "</option>";
    }).join("");
    select.disabled = !names.length;
  }

  function picker(provinceSelect, citySelect, districtSelect) {
    var data = {};
    function cities() { return data[provinceSelect.value] || {}; }
    function showCities() {
      fill(citySelect, Object.keys(cities()), "请选择城市");
      fill(districtSelect, [], "请选择区县");
    }
    function showDistricts() { fill(districtSelect, cities()[citySelect.value] || [], "请选择区县"); }
    provinceSelect.addEventListener("change", showCities);
    citySelect.addEventListener("change", showDistricts);
    fill(provinceSelect, [], "正在加载…");
    fill(citySelect, [], "请选择城市");
    fill(districtSelect, [], "请选择区县");

    var self = {
      ready: load().then(function (loaded) {
        data = loaded;
        self.data = loaded;
        fill(provinceSelect, Object.keys(data), "请选择省份");
        return self;
      }),
      data: null,
      value: function () {
        return {province: provinceSelect.value, city: citySelect.value, district: districtSelect.value};
      },
      set: function (value) {
        provinceSelect.value = value.province || "";
        showCities();
        citySelect.value = value.city || "";
        showDistricts();
        districtSelect.value = value.district || "";
      },
      reset: function () { self.set({}); }
    };
    return self;
  }

  function compose(value, detail) {
    var city = PLACEHOLDER_CITIES.indexOf(value.city) >= 0 ? "" : value.city;
    return value.province + city + value.district + " " + detail;
  }

  /* {province, city, district, detail} of an address written by compose(), as far as it matches the
   * data (an address typed freely elsewhere gives empty parts and the whole text as the detail). */
  function split(data, address) {
    var result = {province: "", city: "", district: "", detail: address || ""};
    var rest = address || "";
    var province = Object.keys(data || {}).filter(function (p) { return rest.indexOf(p) === 0; })[0];
    if (!province) { return result; }
    rest = rest.slice(province.length);
    var cities = data[province];
    var city = Object.keys(cities).filter(function (c) {
      return PLACEHOLDER_CITIES.indexOf(c) < 0 && rest.indexOf(c) === 0;
    })[0];
    if (city) {
      rest = rest.slice(city.length);
    } else {  // a municipality or a county-level city straight under the province
      city = Object.keys(cities).filter(function (c) {
        return PLACEHOLDER_CITIES.indexOf(c) >= 0 && cities[c].some(function (d) { return rest.indexOf(d) === 0; });
      })[0];
      if (!city) { return result; }
    }
    var district = cities[city].filter(function (d) { return rest.indexOf(d) === 0; })[0] || "";
    rest = rest.slice(district.length);
    return {province: province, city: city, district: district, detail: rest.replace(/^\s+/, "")};
  }

  window.Region = {picker: picker, compose: compose, split: split, load: load};
})(window);
