/* Indicator pages: the scope and period picker, the drill-down rows, and the ECharts charts
   (trend with target line and last year's figures; comparison of the units one level down).
   ECharts is vendored (static/vendor/echarts); nothing is loaded from the network. */
(function () {
  "use strict";

  // Picker: choosing a county, an alliance or an institution clears the other two (the most
  // specific one given wins on the server) and shows it; choosing a period shows it.
  var filters = document.querySelector("[data-indicator-filters]");
  if (filters) {
    var scopeSelects = filters.querySelectorAll("[data-scope-select]");
    scopeSelects.forEach(function (select) {
      select.addEventListener("change", function () {
        if (!select.value) { return; }
        scopeSelects.forEach(function (other) { if (other !== select) { other.value = ""; } });
        filters.submit();
      });
    });
    var periodSelect = filters.querySelector("[data-period-select]");
    if (periodSelect) {
      periodSelect.addEventListener("change", function () { filters.submit(); });
    }
  }

  // Drill-down rows: the first click loads the units by HTMX (hx-trigger "click once"); every
  // click shows or hides the row.
  document.querySelectorAll("[data-units-toggle]").forEach(function (button) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var row = document.getElementById(button.getAttribute("data-units-toggle"));
      if (!row) { return; }
      var hidden = row.classList.toggle("d-none");
      button.setAttribute("aria-expanded", hidden ? "false" : "true");
      button.classList.toggle("active", !hidden);
    });
  });

  var dataNode = document.getElementById("indicator-charts");
  if (!dataNode || !window.echarts) { return; }
  var data = JSON.parse(dataNode.textContent);
  var unit = data.unit || "";
  var COLORS = {met: "#1e7b48", not_met: "#d6333f", undetermined: "#e0a400", no_target: "#5b8fd6", no_data: "#b8c2cc"};

  function fmt(value) {
    if (value === null || value === undefined) { return "—"; }
    return Number(value).toLocaleString("zh-CN", {minimumFractionDigits: data.decimals, maximumFractionDigits: data.decimals}) + unit;
  }

  // Keep the target line inside the value axis: with a target, the axis runs from 0 (or the
  // lowest value below 0) to a round number above both the values and the target.
  function valueAxis(values) {
    var axis = {type: "value", axisLabel: {formatter: "{value}" + unit}};
    if (data.target === null) { return axis; }
    var shown = values.filter(function (v) { return v !== null && v !== undefined; }).concat([data.target]);
    var high = Math.max.apply(null, shown), low = Math.min.apply(null, shown);
    if (high > 0) {
      var step = Math.pow(10, Math.floor(Math.log10(high * 1.05)));
      axis.max = Math.ceil(high * 1.05 / step * 2) / 2 * step;
    }
    axis.min = low < 0 ? undefined : 0;
    return axis;
  }

  function targetLine() {
    if (data.target === null) { return undefined; }
    return {
      silent: true, symbol: "none",
      lineStyle: {color: "#b8272c", type: "dashed", width: 1.5},
      label: {position: "insideEndTop", color: "#b8272c", formatter: data.labels.target + " " + fmt(data.target)},
      data: [{yAxis: data.target}]
    };
  }

  var charts = [];
  var trendEl = document.getElementById("trend-chart");
  if (trendEl && data.trend) {
    var trend = echarts.init(trendEl);
    trend.setOption({
      animation: false,
      color: ["#174a8b", "#9aa6b2"],
      tooltip: {trigger: "axis", renderMode: "richText", valueFormatter: fmt},
      legend: {top: 0, textStyle: {fontSize: 12}},
      grid: {left: 56, right: 24, top: 36, bottom: 32},
      xAxis: {type: "category", data: data.trend.periods, axisLabel: {fontSize: 11, hideOverlap: true}},
      yAxis: valueAxis(data.trend.values.concat(data.trend.lastYear)),
      series: [
        {
          name: data.labels.value, type: "line", data: data.trend.values, connectNulls: false,
          symbolSize: 7, lineStyle: {width: 2.5},
          itemStyle: {color: function (p) { return COLORS[data.trend.met[p.dataIndex]] || "#174a8b"; }},
          label: {show: true, fontSize: 10, color: "#2c3a4a", formatter: function (p) { return p.value === null ? "" : fmt(p.value); }},
          markLine: targetLine()
        },
        {name: data.labels.lastYear, type: "line", data: data.trend.lastYear, connectNulls: false,
         symbol: "emptyCircle", symbolSize: 5, lineStyle: {type: "dashed", width: 1.5}}
      ]
    });
    charts.push(trend);
  }

  var unitsEl = document.getElementById("units-chart");
  if (unitsEl && data.units && data.units.names.length) {
    var units = echarts.init(unitsEl);
    var many = data.units.names.length > 5;
    units.setOption({
      animation: false,
      tooltip: {trigger: "axis", renderMode: "richText", axisPointer: {type: "shadow"}, valueFormatter: fmt},
      grid: {left: 56, right: 24, top: 24, bottom: many ? 88 : 40},
      xAxis: {type: "category", data: data.units.names,
              axisLabel: {interval: 0, fontSize: 11, rotate: many ? 35 : 0, width: many ? 110 : 90, overflow: "truncate"}},
      yAxis: valueAxis(data.units.values),
      series: [{
        name: data.labels.value, type: "bar", barMaxWidth: 42,
        data: data.units.values.map(function (value, i) {
          return {value: value, itemStyle: {color: COLORS[data.units.met[i]] || "#174a8b"}};
        }),
        label: {show: true, position: "top", fontSize: 11, formatter: function (p) { return p.value === null ? "" : fmt(p.value); }},
        markLine: targetLine()
      }]
    });
    charts.push(units);
  }
  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
