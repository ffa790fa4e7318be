// The queue filters itself and refreshes in place; every row opens its alert. No libraries, no CDN.
(function () {
  "use strict";
  const table = document.getElementById("queue");
  const form = document.getElementById("filters");
  function bindRows(root) {
    root.querySelectorAll("tr.row").forEach(function (row) {
      row.addEventListener("click", function (event) {
        if (event.target.tagName !== "A") { window.location.href = row.dataset.href; }
      });
    });
  }
  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    return td;
  }
  function render(rows) {
    const body = table.querySelector("tbody");
    body.replaceChildren();
    rows.forEach(function (r) {
      const tr = document.createElement("tr");
      tr.className = "row tier-" + r.tier;
      tr.dataset.href = table.dataset.base + "/alerts/" + encodeURIComponent(r.alert_id);
      tr.dataset.alert = r.alert_id;
      const tier = cell("", null);
      const badge = document.createElement("span");
      badge.className = "tier"; badge.textContent = r.tier; tier.appendChild(badge);
      tr.appendChild(tier);
      tr.appendChild(cell(Math.round(100 * r.impact_probability) + "%", "num"));
      tr.appendChild(cell(r.journey ? r.journey + " / " + r.stage : "unmapped", null));
      const alert = cell("", null);
      const link = document.createElement("a");
      link.href = tr.dataset.href; link.textContent = r.alert_name; alert.appendChild(link);
      alert.appendChild(document.createElement("br"));
      const small = document.createElement("small");
      small.textContent = r.service + " · " + r.severity; alert.appendChild(small);
      tr.appendChild(alert);
      tr.appendChild(cell(r.top_reason, null));
      tr.appendChild(cell(r.playbook, "playbook"));
      tr.appendChild(cell(Math.round(r.age_min) + " min", "num"));
      body.appendChild(tr);
    });
    if (!rows.length) {
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell("No ranked alerts for these filters.", null);
      td.colSpan = 7; tr.appendChild(td); body.appendChild(tr);
    }
    document.getElementById("count").textContent = rows.length + " alerts";
    bindRows(body);
  }
  function query() {
    const params = new URLSearchParams(new FormData(form));
    for (const [key, value] of Array.from(params.entries())) { if (!value) { params.delete(key); } }
    return params;
  }
  function refresh() {
    fetch(table.dataset.api + "?" + query().toString(), { credentials: "same-origin" })
      .then(function (response) {
        if (response.status === 401) { window.location.href = table.dataset.base + "/login"; }
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (data) { render(data.rows); })
      .catch(function () { /* keep the last good table; the next tick tries again */ });
  }
  if (table && form) {
    bindRows(table);
    form.querySelectorAll("select").forEach(function (select) {
      select.addEventListener("change", function () {
        const params = query();
        history.replaceState(null, "", params.toString() ? "?" + params.toString() : window.location.pathname);
        refresh();
      });
    });
    setInterval(refresh, 1000 * Number(table.dataset.refresh || 15));
  }
})();
