/* fibery-kb entity tables: filter by text, by workflow state and single-select fields, sort
   by any column. Progressive enhancement: without JavaScript the table is plain HTML with numbered
   pages. A table of several pages works on every row: the first filter or sort loads
   rows.js (all rows of the database, rendered at build time) and shows the matches 100 at
   a time; clearing the filters and sort shows this page's rows again. */
(function () {
  "use strict";
  var table = document.querySelector("table.entities[data-table]");
  if (!table) return;
  var tbody = table.tBodies[0];
  var tools = document.querySelector("[data-table-tools]");
  var status = document.getElementById("table-status");
  var pager = document.querySelector("nav.pager");
  var pageSize = parseInt(table.getAttribute("data-page-size"), 10) || 100;
  var pageRows = Array.prototype.slice.call(tbody.rows);
  var allRows = table.hasAttribute("data-rows") ? null : pageRows;
  var filters = {};
  var query = "";
  var sort = { column: -1, direction: 1 };
  var shown = pageSize;
  var loading = null;

  /* rows.js calls kbTableRows([...]) with each row's HTML. */
  function loadAll() {
    if (allRows) return Promise.resolve(allRows);
    if (!loading) {
      loading = new Promise(function (resolve, reject) {
        window.kbTableRows = function (html) {
          var template = document.createElement("template");
          template.innerHTML = "<table><tbody>" + html.join("") + "</tbody></table>";
          allRows = Array.prototype.slice.call(template.content.querySelector("tbody").rows);
          resolve(allRows);
        };
        var script = document.createElement("script");
        script.src = table.getAttribute("data-rows");
        script.onerror = function () { loading = null; reject(new Error("rows.js")); };
        document.head.appendChild(script);
      });
    }
    return loading;
  }

  function active() {
    return sort.column >= 0 || query !== "" || Object.keys(filters).some(function (k) { return filters[k]; });
  }

  function matches(row) {
    if (query && row.textContent.toLowerCase().indexOf(query) < 0) return false;
    return Object.keys(filters).every(function (index) {
      var wanted = filters[index];
      return !wanted || "=" + (row.getAttribute("data-f" + index) || "") === wanted;
    });
  }

  function key(row, column) {
    var cell = row.cells[column];
    return cell ? cell.getAttribute("data-sort") || "" : "";
  }

  function compare(numeric, column) {
    return function (a, b) {
      var x = key(a, column), y = key(b, column);
      if (x === "" || y === "") return x === y ? 0 : x === "" ? 1 : -1;  // empty cells last
      var order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y, undefined, { numeric: true });
      return order * sort.direction;
    };
  }

  function setStatus(text) {
    if (status) status.textContent = text;
  }

  function showMore(count) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "more";
    button.textContent = "Show " + Math.min(pageSize, count - shown) + " more";
    button.addEventListener("click", function () { shown += pageSize; draw(); });
    var row = document.createElement("tr");
    var cell = document.createElement("td");
    cell.colSpan = table.tHead.rows[0].cells.length;
    cell.appendChild(button);
    row.appendChild(cell);
    return row;
  }

  function draw() {
    if (!active()) {
      tbody.replaceChildren.apply(tbody, pageRows);
      if (pager) pager.hidden = false;
      setStatus("");
      return;
    }
    var rows = allRows.filter(matches);
    if (sort.column >= 0) {
      var numeric = table.tHead.rows[0].cells[sort.column].getAttribute("data-type") === "number";
      rows.sort(compare(numeric, sort.column));
    }
    var visible = rows.slice(0, shown);
    if (rows.length > shown) visible.push(showMore(rows.length));
    tbody.replaceChildren.apply(tbody, visible);
    if (pager) pager.hidden = true;
    fits();
    setStatus(rows.length + " of " + allRows.length + (allRows.length === 1 ? " item" : " items") +
      (rows.length > shown ? ", showing the first " + shown : ""));
  }

  function update() {
    shown = pageSize;
    if (!active()) { draw(); return; }
    setStatus("Loading all rows…");
    loadAll().then(draw, function () {
      setStatus("Could not load every row: filtering this page only.");
      allRows = pageRows;
      draw();
    });
  }

  function sortBy(column) {
    var headers = table.tHead.rows[0].cells;
    if (sort.column === column) sort.direction = -sort.direction;
    else { sort.column = column; sort.direction = 1; }
    Array.prototype.forEach.call(headers, function (th, index) {
      if (index === column) th.setAttribute("aria-sort", sort.direction > 0 ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
    update();
  }

  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    while (th.firstChild) button.appendChild(th.firstChild);
    button.appendChild(document.createElement("span")).className = "sort-icon";
    button.setAttribute("aria-label", "Sort by " + button.textContent.trim());
    button.addEventListener("click", function () { sortBy(index); });
    th.appendChild(button);
  });

  /* The "scroll sideways" hint (phones, CSS) only while the table is wider than its region. */
  var wrap = table.closest(".table-wrap");
  var hint = document.querySelector(".scroll-hint");
  function fits() {
    if (wrap && hint) hint.hidden = wrap.scrollWidth <= wrap.clientWidth + 1;
  }
  window.addEventListener("resize", fits);
  fits();

  if (tools) {
    tools.hidden = false;
    var text = tools.querySelector("input[data-filter]");
    if (text) {
      text.value = "";
      var timer = 0;
      text.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(function () {
          query = text.value.trim().toLowerCase();
          update();
        }, 120);
      });
    }
    Array.prototype.forEach.call(tools.querySelectorAll("select[data-facet]"), function (select) {
      select.value = "";
      select.addEventListener("change", function () {
        filters[select.getAttribute("data-facet")] = select.value;
        update();
      });
    });
  }
})();
