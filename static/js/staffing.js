/* Staffing: the talent targets' trend chart (the chosen metric month by month, with its goal as a
   dashed line). ECharts is vendored (static/vendor/echarts); nothing is loaded from the network. */
(function () {
  "use strict";
  var box = document.getElementById("targets-chart");
  var dataNode = document.getElementById("targets-chart-data");
  if (!box || !dataNode || typeof echarts === "undefined") { return; }
  var data = JSON.parse(dataNode.textContent);
  var chart = echarts.init(box);
  var picker = document.getElementById("trend-metric");

  function draw(index) {
    var series = data.series[index];
    chart.setOption({
      animation: false,
      tooltip: { trigger: "axis", renderMode: "richText" },
      legend: { data: [series.name, "目标"] },
      grid: { left: 50, right: 20, top: 40, bottom: 40 },
      xAxis: { type: "category", data: data.months },
      yAxis: { type: "value", scale: true },
      series: [
        { name: series.name, type: "line", data: series.values, connectNulls: false, symbolSize: 6 },
        { name: "目标", type: "line", data: data.months.map(function () { return series.goal; }),
          symbol: "none", lineStyle: { type: "dashed", color: "#c00000" } }
      ]
    }, true);
  }
  draw(0);
  if (picker) { picker.addEventListener("change", function () { draw(parseInt(picker.value, 10)); }); }
  window.addEventListener("resize", function () { chart.resize(); });
})();
