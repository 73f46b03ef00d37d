// The pages' ECharts charts. Each chart is a <div data-chart="KIND" data-source="ID">, its data
// a <script type="application/json" id="ID"> block (read with JSON.parse, never run). Every
// tooltip is built by `tooltip` below, which escapes everything it shows: serials, lot numbers,
// region and defect codes come from users, and an ECharts tooltip is HTML.
(function () {
  "use strict";

  const ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"};

  function esc(value) {
    return String(value === null || value === undefined ? "" : value).replace(/[&<>"']/g, function (c) {
      return ENTITIES[c];
    });
  }

  // One line per item: its colour marker (ECharts' own markup), then the escaped text.
  function line(p, name) {
    const value = Array.isArray(p.value) ? p.value[p.value.length - 1] : p.value;
    const shown = value === null || value === undefined || value === "" ? "—" : value;
    return (p.marker || "") + (name ? esc(name) + ": " : "") + esc(shown);
  }

  function itemTooltip(p) {
    if (p.seriesType === "tree") {
      return esc(p.name) + (p.value ? "<br>" + esc(p.value) : "");
    }
    if (p.seriesType === "pie") {
      return line(p, p.name) + " (" + esc(p.percent) + "%)";
    }
    return esc(p.name) + "<br>" + line(p, p.seriesName || "");
  }

  function axisTooltip(params) {
    const list = Array.isArray(params) ? params : [params];
    if (!list.length) return "";
    const head = esc(list[0].axisValueLabel !== undefined ? list[0].axisValueLabel : list[0].name);
    return head + list.map(function (p) { return "<br>" + line(p, p.seriesName || ""); }).join("");
  }

  function tooltip(trigger) {
    return {trigger: trigger, formatter: trigger === "axis" ? axisTooltip : itemTooltip};
  }

  function title(text) {
    return text ? {text: text, textStyle: {fontSize: 13}} : undefined;
  }

  // Horizontal bars of {label: count}: {title, values, color}.
  function bars(d) {
    return {title: title(d.title), tooltip: tooltip("item"),
      grid: {left: 90, right: 20, top: 30, bottom: 20},
      xAxis: {type: "value"}, yAxis: {type: "category", data: Object.keys(d.values)},
      series: [{type: "bar", name: d.title || "", data: Object.values(d.values),
                itemStyle: {color: d.color || "#10325a"}}]};
  }

  // Places on their longitude and latitude, sized by count (map-like, no map):
  // {title, points: [{name, value: [lon, lat, count]}], color}.
  function places(d) {
    return {title: title(d.title), tooltip: {trigger: "item", formatter: function (p) {
        return p.name + ": " + p.value[2]; }},
      grid: {left: 50, right: 20, top: 30, bottom: 30},
      xAxis: {type: "value", scale: true, name: "E"}, yAxis: {type: "value", scale: true, name: "N"},
      series: [{type: "scatter", data: d.points, itemStyle: {color: d.color || "#10325a"},
                symbolSize: function (v) { return Math.min(40, 8 + 4 * Math.sqrt(v[2])); },
                label: {show: true, position: "right", formatter: "{b}"}}]};
  }

  // A unit's genealogy as a tree: {graph}.
  // Left to right with room for the root's "PRODUCT SERIAL" label; top to bottom on a phone.
  function genealogy(d, element) {
    if (element.clientWidth < 600) {
      return {tooltip: tooltip("item"),
        series: [{type: "tree", orient: "TB", data: [d.graph], top: 40, left: 30, bottom: 150,
                  right: 30, symbolSize: 9, initialTreeDepth: -1,
                  label: {position: "top", fontSize: 11},
                  leaves: {label: {position: "bottom", rotate: -90, align: "left",
                                   verticalAlign: "middle"}},
                  expandAndCollapse: true}]};
    }
    return {tooltip: tooltip("item"),
      series: [{type: "tree", data: [d.graph], top: 20, left: 200, bottom: 20, right: 240,
                symbolSize: 9, initialTreeDepth: -1, label: {position: "left", fontSize: 12},
                leaves: {label: {position: "right"}}, expandAndCollapse: true}]};
  }

  function percent(share) {
    return share === null || share === undefined ? null : Math.round(share * 1000) / 10;
  }

  // First-pass yield and failure rate per key: {rows, fpy, failure}.
  function yieldChart(d) {
    return {tooltip: tooltip("axis"), legend: {bottom: 0},
      grid: {left: 50, right: 20, top: 20, bottom: 60},
      yAxis: {type: "value", max: 100, axisLabel: {formatter: "{value}%"}},
      xAxis: {type: "category", data: d.rows.map(function (r) { return String(r.key); })},
      series: [{name: d.fpy, type: "bar", itemStyle: {color: "#1b7f3b"},
                data: d.rows.map(function (r) { return percent(r.fpy); })},
               {name: d.failure, type: "bar", itemStyle: {color: "#b3261e"},
                data: d.rows.map(function (r) { return percent(r.failure_rate); })}]};
  }

  // Defects, most frequent first, with the cumulative share: {items, count, cumulative}.
  function pareto(d) {
    return {tooltip: tooltip("axis"), grid: {left: 50, right: 50, top: 20, bottom: 60},
      xAxis: {type: "category", data: d.items.map(function (i) { return i.defect_code; }),
              axisLabel: {rotate: 30}},
      yAxis: [{type: "value"}, {type: "value", max: 100, axisLabel: {formatter: "{value}%"}}],
      series: [{name: d.count, type: "bar", itemStyle: {color: "#10325a"},
                data: d.items.map(function (i) { return i.count; })},
               {name: d.cumulative, type: "line", yAxisIndex: 1,
                data: d.items.map(function (i) { return percent(i.cumulative); })}]};
  }

  // A recall's outcomes: {title, names, labels, totals}.
  function outcomes(d) {
    return {title: title(d.title), tooltip: tooltip("item"),
      series: [{type: "pie", radius: ["35%", "65%"],
                data: d.names.map(function (n, i) { return {name: d.labels[i], value: d.totals[n]}; })}]};
  }

  // A recall's outcomes per region, stacked: {title, names, labels, regions}.
  function regions(d) {
    const keys = Object.keys(d.regions);
    return {title: title(d.title), tooltip: tooltip("axis"), legend: {bottom: 0, data: d.labels},
      grid: {left: 70, right: 20, top: 30, bottom: 60}, xAxis: {type: "value"},
      yAxis: {type: "category", data: keys.map(function (r) { return r || "—"; })},
      series: d.names.map(function (n, i) {
        return {name: d.labels[i], type: "bar", stack: "all",
                data: keys.map(function (r) { return d.regions[r][n]; })};
      })};
  }

  // First-pass yield per day, one line per step: {days, steps: {step: [share or null]}}.
  function trend(d) {
    const names = Object.keys(d.steps);
    return {tooltip: tooltip("axis"), legend: {bottom: 0, data: names},
      grid: {left: 50, right: 20, top: 20, bottom: 60},
      xAxis: {type: "category", data: d.days},
      yAxis: {type: "value", max: 100, axisLabel: {formatter: "{value}%"},
              min: function (v) { return Math.max(0, Math.floor((v.min - 2) / 5) * 5); }},
      series: names.map(function (n) {
        return {name: n, type: "line", connectNulls: true, symbolSize: 7,
                data: d.steps[n].map(percent)};
      })};
  }

  const KINDS = {trend: trend, bars: bars, places: places, genealogy: genealogy, yield: yieldChart, pareto: pareto,
                 outcomes: outcomes, regions: regions};
  const charts = [];
  document.querySelectorAll("[data-chart]").forEach(function (element) {
    const source = document.getElementById(element.dataset.source);
    const build = KINDS[element.dataset.chart];
    if (!source || !build) return;
    const chart = echarts.init(element);
    chart.setOption(build(JSON.parse(source.textContent), element));
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (chart) { chart.resize(); });
  });
})();
