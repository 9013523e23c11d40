// Filter the problem-rows table as the user types (vanilla JS, no network).
(function () {
  var input = document.getElementById("row-filter");
  var table = document.getElementById("problems");
  var counter = document.getElementById("row-filter-count");
  if (!input || !table) { return; }
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  var texts = rows.map(function (tr) { return tr.textContent.toLowerCase(); });
  input.addEventListener("input", function () {
    var query = input.value.trim().toLowerCase();
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var match = !query || texts[i].indexOf(query) !== -1;
      rows[i].hidden = !match;
      if (match) { shown++; }
    }
    counter.textContent = shown.toLocaleString() + " of " + rows.length.toLocaleString() + " shown";
  });
})();
