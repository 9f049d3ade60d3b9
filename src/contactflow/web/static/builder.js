// The flow builder's "Insert a field" buttons: append a mapping of the picked field, through
// the picked formatter, to the input the button belongs to. The only script of our own; the
// rest of the builder is htmx attributes.
"use strict";

function mapping(row) {
  const source = row.querySelector('[data-map="source"]').value;
  const number = row.querySelector('[data-map="number"]').value.trim().replace(/'/g, "");
  let formatter = row.querySelector('[data-map="format"]').value;
  if (!source) {
    return "";
  }
  formatter = formatter.replace("{n}", number || "0");
  return "{{ " + source + (formatter ? " | " + formatter : "") + " }}";
}

document.addEventListener("click", (event) => {
  const button = event.target.closest('[data-map="insert"]');
  if (!button) {
    return;
  }
  const row = button.closest("[data-map-target]");
  const target = document.getElementById(row.dataset.mapTarget);
  const text = mapping(row);
  if (!target || !text) {
    return;
  }
  const joiner = target.value && !/\s$/.test(target.value) ? " " : "";
  target.value = target.value + joiner + text;
  target.dispatchEvent(new Event("input", { bubbles: true }));
  target.focus();
});
