// The queue filters itself and refreshes in place; an incident unfolds its alerts, every alert row
// opens its alert. No libraries, no CDN.
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
    root.querySelectorAll("button.fold").forEach(function (button) {
      button.addEventListener("click", function () {
        const open = button.getAttribute("aria-expanded") !== "true";
        button.setAttribute("aria-expanded", String(open));
        button.closest("tbody").querySelectorAll("tr.member").forEach(function (row) {
          row.hidden = !open;
        });
      });
    });
  }
  function cell(text, cls) {
    const td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text;
    return td;
  }
  function badge(tier) {
    const td = cell("", null);
    const span = document.createElement("span");
    span.className = "tier"; span.textContent = tier; td.appendChild(span);
    return td;
  }
  function percent(p) { return Math.round(100 * p) + "%"; }
  function head(i, expanded) {
    const tr = document.createElement("tr");
    tr.className = "incident-head tier-" + i.tier;
    tr.appendChild(badge(i.tier));
    tr.appendChild(cell(percent(i.impact_probability), "num"));
    tr.appendChild(cell(i.stages.join(", ") || "no mapped stage", null));
    const what = cell("", null);
    what.colSpan = 3;
    const link = document.createElement("a");
    link.className = "incident-link";
    link.href = table.dataset.base + "/incidents/" + encodeURIComponent(i.incident_id);
    link.textContent = "incident " + i.incident_id;
    what.appendChild(link);
    what.appendChild(document.createTextNode(" · root-cause candidate "));
    const root = document.createElement("strong");
    root.textContent = i.root_service; what.appendChild(root);
    if (i.root_reason) {
      const why = document.createElement("small");
      why.textContent = " (" + i.root_reason + ")"; what.appendChild(why);
    }
    tr.appendChild(what);
    const fold = cell("", "num");
    const button = document.createElement("button");
    button.type = "button"; button.className = "fold";
    button.setAttribute("aria-expanded", String(expanded));
    button.textContent = i.alerts.length + " of " + i.size + " alerts";
    fold.appendChild(button); tr.appendChild(fold);
    return tr;
  }
  function member(r, expanded) {
    const tr = document.createElement("tr");
    tr.className = "row member tier-" + r.tier;
    tr.hidden = !expanded;
    tr.dataset.href = table.dataset.base + "/alerts/" + encodeURIComponent(r.alert_id);
    tr.dataset.alert = r.alert_id;
    tr.appendChild(badge(r.tier));
    tr.appendChild(cell(percent(r.impact_probability), "num"));
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
    return tr;
  }
  function render(data) {
    const unfolded = new Set(Array.from(table.querySelectorAll("tbody.incident"))
      .filter(function (b) { return b.querySelector("button.fold[aria-expanded=true]"); })
      .map(function (b) { return b.dataset.incident; }));
    table.querySelectorAll("tbody").forEach(function (b) { b.remove(); });
    data.incidents.forEach(function (i) {
      const body = document.createElement("tbody");
      body.className = "incident"; body.dataset.incident = i.incident_id;
      const expanded = unfolded.has(i.incident_id);
      body.appendChild(head(i, expanded));
      i.alerts.forEach(function (r) { body.appendChild(member(r, expanded)); });
      table.appendChild(body);
    });
    if (!data.incidents.length) {
      const body = document.createElement("tbody");
      const tr = document.createElement("tr");
      tr.className = "empty";
      const td = cell("No ranked alerts for these filters.", null);
      td.colSpan = 7; tr.appendChild(td); body.appendChild(tr); table.appendChild(body);
    }
    document.getElementById("count").textContent =
      data.incidents.length + " incidents, " + data.rows.length + " alerts";
    bindRows(table);
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
      .then(function (data) { render(data); })
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
