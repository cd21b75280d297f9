/* Supervision dashboard: the monthly trend of overdue, completed and reported tasks (ECharts,
   vendored). The data comes from {{ chart|json_script:"trend-data" }}, the series' names from the
   chart element's data-label-* attributes (translated in the template). */
(function () {
  "use strict";
  var el = document.getElementById("trend-chart");
  var node = document.getElementById("trend-data");
  if (!window.echarts || !el || !node) { return; }
  var data = JSON.parse(node.textContent);
  var chart = echarts.init(el);
  chart.setOption({
    animation: false,
    tooltip: {trigger: "axis", renderMode: "richText"},
    legend: {top: 0, textStyle: {fontSize: 11}},
    grid: {left: 36, right: 8, top: 28, bottom: 24},
    xAxis: {type: "category", data: data.labels, axisLabel: {fontSize: 10}},
    yAxis: {type: "value", minInterval: 1},
    series: [
      {name: el.getAttribute("data-label-overdue"), type: "line", data: data.overdue, itemStyle: {color: "#d6333f"}},
      {name: el.getAttribute("data-label-done"), type: "bar", data: data.done, itemStyle: {color: "#1e7b48"}},
      {name: el.getAttribute("data-label-reports"), type: "bar", data: data.reports, itemStyle: {color: "#8fb3e0"}}
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
