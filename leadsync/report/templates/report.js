// Filter the problem-rows table as the user types (vanilla JS, no network).
(function () {
  var input = document.getElementById("row-filter");
  var table = document.getElementById("problems");
  var counter = document.getElementById("row-filter-count");
  if (!input || !table) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var texts = rows.map(function (tr) { return tr.textContent.toLowerCase(); });
  function apply() {
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var match = !query || texts[i].indexOf(query) !== -1;
      rows[i].hidden = !match;
      if (match) { shown++; }
    }
    counter.textContent = shown.toLocaleString() + " of " + rows.length.toLocaleString() + " shown";
  }
  input.addEventListener("input", apply);
  // report.html#filter=phone-invalid opens the page with that filter applied.
  var match = /^#filter=(.*)$/.exec(window.location.hash);
  if (match) { input.value = decodeURIComponent(match[1]); apply(); }
})();
