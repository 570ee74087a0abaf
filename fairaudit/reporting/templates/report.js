/* Sortable tables: an enhancement only; the report reads the same without JavaScript. */
(function () {
  "use strict";
  function keyOf(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw !== null) {
      return raw === "" ? null : { num: true, v: parseFloat(raw) };
    }
    return { num: false, v: (cell.textContent || "").trim().toLowerCase() };
  }
  function compare(a, b) {
    if (a === null && b === null) { return 0; }
    if (a === null) { return 1; }
    if (b === null) { return -1; }
    if (a.num && b.num) { return a.v - b.v; }
    return String(a.v).localeCompare(String(b.v));
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    if (!table.tHead || !table.tBodies.length) { return; }
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.classList.add("sort-key");
      th.setAttribute("tabindex", "0");
      th.setAttribute("aria-sort", "none");
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (other) { other.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r1, r2) {
          var a = keyOf(r1.cells[col]), b = keyOf(r2.cells[col]);
          if (a === null || b === null) { return compare(a, b); }
          return ascending ? compare(a, b) : compare(b, a);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); sort(); }
      });
    });
  });
})();
