// The new-campaign form, enhanced. Fields that matter for one choice only (the subtree root for
// scope "subtree", the clause picker for "list", a tag for source "tag", ...) carry
// data-show-when="<field>=<value>" and the hidden attribute; this script shows each one while its
// choice is made. The clause picker gets a filter, "tick all shown" and a count of ticked clauses.
// Without JavaScript, campaign-form-noscript.css shows every field and the form works the same.
(function () {
  "use strict";

  function theForm() {
    return document.querySelector("form[data-campaign-form]");
  }

  // The current value of a field: a radio group's checked value, a select's or an input's value.
  function valueOf(form, name) {
    var field = form.elements.namedItem(name);
    return field ? field.value : "";
  }

  function applyConditions(form) {
    form.querySelectorAll("[data-show-when]").forEach(function (element) {
      var rule = element.getAttribute("data-show-when").split("=");
      element.hidden = valueOf(form, rule[0]) !== rule[1];
    });
    form.querySelectorAll("[data-js-only]").forEach(function (element) {
      element.hidden = false;
    });
  }

  function clauseBoxes(form) {
    return form.querySelectorAll('.clause-option input[type="checkbox"]');
  }

  function filterClauses(form) {
    var input = form.querySelector("[data-clause-filter]");
    if (!input) return;
    var wanted = input.value.trim().toLowerCase();
    form.querySelectorAll(".clause-option").forEach(function (option) {
      var text = option.getAttribute("data-clause-text") || "";
      option.hidden = wanted !== "" && text.indexOf(wanted) === -1;
    });
  }

  function countTicked(form) {
    var out = form.querySelector("[data-clause-count]");
    if (!out) return;
    var boxes = clauseBoxes(form);
    var ticked = 0;
    boxes.forEach(function (box) {
      if (box.checked) ticked += 1;
    });
    out.textContent = ticked + " of " + boxes.length + " clauses ticked";
  }

  function refresh() {
    var form = theForm();
    if (!form) return;
    applyConditions(form);
    filterClauses(form);
    countTicked(form);
  }

  document.addEventListener("change", function (event) {
    var form = theForm();
    if (form && form.contains(event.target)) {
      applyConditions(form);
      countTicked(form);
    }
  });

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-clause-filter]")) {
      filterClauses(theForm());
    }
  });

  // Enter in the filter box filters; it must not submit the campaign.
  document.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.matches && event.target.matches("[data-clause-filter]")) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-clause-tick]");
    var form = theForm();
    if (!button || !form) return;
    var tick = button.getAttribute("data-clause-tick") === "shown";
    clauseBoxes(form).forEach(function (box) {
      if (!tick) box.checked = false;
      else if (!box.closest(".clause-option").hidden) box.checked = true;
    });
    countTicked(form);
  });

  // A new spec version swaps in its clause picker: show, filter and count it like the first.
  document.addEventListener("htmx:afterSettle", refresh);

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", refresh);
  } else {
    refresh();
  }
})();
