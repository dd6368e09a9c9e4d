// Draws the overview's two charts from the page's JSON and makes the table sortable by column.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("chart-data").textContent);
  function draw(id, figure, type) {
    var node = document.getElementById(id);
    if (!node || !window.echarts) { return; }
    var chart = window.echarts.init(node);
    chart.setOption({
      animation: false,
      tooltip: {},
      grid: { left: 40, right: 10, bottom: 50, top: 20 },
      xAxis: { type: "category", data: figure.labels, axisLabel: { interval: 0, rotate: figure.labels.length > 4 ? 30 : 0 } },
      yAxis: { type: "value" },
      series: [{ type: type, data: figure.values, itemStyle: { color: "#c8102e" } }]
    });
    window.addEventListener("resize", function () { chart.resize(); });
  }
  draw("chart-attendance", data.attendance, "line");
  draw("chart-activities", data.activities, "bar");

  var table = document.querySelector("table[data-sortable]");
  if (!table) { return; }
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (head, index) {
    head.tabIndex = 0;
    head.setAttribute("aria-sort", "none");
    function sort() {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var down = head.getAttribute("aria-sort") !== "descending";
      rows.sort(function (a, b) {
        var x = a.cells[index].textContent.trim(), y = b.cells[index].textContent.trim();
        var nx = parseFloat(x), ny = parseFloat(y);
        var order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, "zh-CN");
        return down ? -order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
      Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
      head.setAttribute("aria-sort", down ? "descending" : "ascending");
    }
    head.addEventListener("click", sort);
    head.addEventListener("keydown", function (event) { if (event.key === "Enter") { sort(); } });
  });
}());
