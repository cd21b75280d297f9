/* Behaviour every page shares, declared with data- attributes instead of inline handlers: the
   Content-Security-Policy runs no inline script, no on*="" attribute and no javascript: URL.
   - <form data-confirm="..."> (or a button or link with it) asks before it goes on;
   - <select data-autosubmit> submits its form on change;
   - <button data-print> prints the page;
   - <input data-select-on-focus> selects its text when focused;
   - data-bar-width="42" / data-bar-left="42" set a bar's width / left edge in percent (a style=""
     attribute in the markup would be blocked; a property set from script is not);
   - <div data-dim-when-field="id_x" data-dim-when-value="v"> is dimmed while #id_x has value v. */
(function () {
  "use strict";

  function percent(text) {
    var value = parseFloat(String(text).replace(",", "."));
    if (!isFinite(value)) { return 0; }
    return Math.max(0, Math.min(100, value));
  }

  function applyBars(root) {
    if (!root || !root.querySelectorAll) { return; }
    var nodes = Array.prototype.slice.call(root.querySelectorAll("[data-bar-width], [data-bar-left]"));
    if (root.matches && root.matches("[data-bar-width], [data-bar-left]")) { nodes.push(root); }
    nodes.forEach(function (node) {
      if (node.hasAttribute("data-bar-width")) { node.style.width = percent(node.getAttribute("data-bar-width")) + "%"; }
      if (node.hasAttribute("data-bar-left")) { node.style.left = percent(node.getAttribute("data-bar-left")) + "%"; }
    });
  }

  function applyDimming(root) {
    if (!root || !root.querySelectorAll) { return; }
    root.querySelectorAll("[data-dim-when-field]").forEach(function (box) {
      var field = document.getElementById(box.getAttribute("data-dim-when-field"));
      if (!field || box.hasAttribute("data-dim-bound")) { return; }
      box.setAttribute("data-dim-bound", "");
      var sync = function () {
        box.classList.toggle("portal-dimmed", field.value === box.getAttribute("data-dim-when-value"));
      };
      field.addEventListener("change", sync);
      sync();
    });
  }

  function init(root) {
    applyBars(root);
    applyDimming(root);
  }

  // Confirmations: a form's submit (whatever button sent it), or a click on a link or button.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form && form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("a[data-confirm], button[data-confirm]");
    if (target && !window.confirm(target.getAttribute("data-confirm"))) {
      event.preventDefault();
      event.stopImmediatePropagation();
      return;
    }
    var printer = event.target.closest && event.target.closest("[data-print]");
    if (printer) {
      event.preventDefault();
      window.print();
    }
  }, true);
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (select && select.hasAttribute && select.hasAttribute("data-autosubmit") && select.form) {
      select.form.submit();
    }
  });
  document.addEventListener("focusin", function (event) {
    var input = event.target;
    if (input && input.hasAttribute && input.hasAttribute("data-select-on-focus") && input.select) {
      input.select();
    }
  });

  init(document);
  // Content swapped in by HTMX (a report's status polling, a drill-down row).
  document.addEventListener("htmx:load", function (event) { init(event.target); });
})();
