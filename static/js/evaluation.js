/* Quarterly evaluation: each alliance's total against the full marks that apply (ECharts,
   vendored). Data from {{ chart|json_script:"evaluation-chart-data" }}; labels from the chart
   element's data-label-* attributes (translated in the template). */
(function () {
  "use strict";
  var el = document.getElementById("evaluation-chart");
  var node = document.getElementById("evaluation-chart-data");
  if (!window.echarts || !el || !node) { return; }
  var data = JSON.parse(node.textContent);
  var chart = echarts.init(el);
  var rankLabel = el.getAttribute("data-label-rank"), rateLabel = el.getAttribute("data-label-rate");
  var totalLabel = el.getAttribute("data-label-total"), fullLabel = el.getAttribute("data-label-full");
  chart.setOption({
    animation: false,
    // richText: the tooltip is drawn on the canvas. An HTML tooltip writes style="" attributes,
    // which the Content-Security-Policy blocks; plain text also keeps names from being read as HTML.
    tooltip: {trigger: "axis", renderMode: "richText", axisPointer: {type: "shadow"}, formatter: function (params) {
      var i = params[0].dataIndex;
      return data.names[i] + "\n" + totalLabel + ": " + data.totals[i] + " / " + data.full_marks[i] +
        "\n" + rateLabel + ": " + (data.rates[i] === null ? "—" : data.rates[i] + "%") +
        "\n" + rankLabel + ": " + (data.ranks[i] || "—");
    }},
    legend: {top: 0, textStyle: {fontSize: 11}, data: [
      {name: fullLabel, itemStyle: {color: "#d5e0ef"}}, {name: totalLabel, itemStyle: {color: "#5b8fd6"}}]},
    grid: {left: 40, right: 12, top: 32, bottom: 28},
    xAxis: {type: "category", data: data.names, axisLabel: {fontSize: 11, interval: 0}},
    yAxis: {type: "value", min: 0},
    series: [
      {name: fullLabel, type: "bar", data: data.full_marks, barGap: "-100%", barMaxWidth: 56,
       itemStyle: {color: "#d5e0ef"}, silent: true, z: 1},
      {name: totalLabel, type: "bar", data: data.totals, barMaxWidth: 56, z: 2,
       itemStyle: {color: function (p) { return data.ranks[p.dataIndex] === 1 ? "#174a8b" : "#5b8fd6"; }},
       label: {show: true, position: "top", fontSize: 11, color: "#2c3a4a"}}
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
