// labelfab labeling page: the per-task controls that annotate.js draws on (loaded before it).
//
// What Label Studio's configs add beyond the fixed controls of the page template:
//   Number and DateTime values, as Label Studio's editor stores them:
//     {"number": 7.5}; {"datetime": "2024-03-05T10:30"} ("2024-03-05" with only="date",
//     "10:30" with only="time"), which is what <input type=datetime-local|date|time> gives;
//   visibleWhen / whenTagName / whenChoiceValue: a control is shown, required and submitted only
//     while the choices it depends on are (or are not) selected (Label Studio's canBeSubmitted);
//   labels from task data (value="$options"): one input per option, made for each task;
//   headers with value="$field": the task's field, as text;
//   text given as a list of paragraphs: shown one paragraph a line, while results carry Label
//     Studio's text (the list joined with ",", as its editor's String(list) makes it) and the
//     same offsets (a "\n" and a "," are one character each).
// Everything from task data is put in the page with textContent, never as markup.
(() => {
  "use strict";
  if (window.labelfabControls) return;

  // ------------------------------------------------------------------ visibleWhen
  // The names of the controls that ``result`` hides; mirrors labeling.schema.validate.hidden_controls.
  function hiddenControls(controls, result) {
    const chosen = new Map();
    for (const item of result) {
      if (item.type === "choices" && item.value && Array.isArray(item.value.choices)) {
        chosen.set(item.from_name, (chosen.get(item.from_name) || []).concat(item.value.choices));
      }
    }
    const hidden = new Set();
    for (const control of controls) {
      if (!control.visible_when || control.visible_when === "region-selected") continue;
      const picked = control.when_tag_name ? (chosen.get(control.when_tag_name) || [])
        : controls.filter((c) => c.tag === "Choices").flatMap((c) => chosen.get(c.name) || []);
      const wanted = control.when_choice_values || [];
      const selected = wanted.length ? picked.some((v) => wanted.includes(v)) : picked.length > 0;
      if (selected !== (control.visible_when === "choice-selected")) hidden.add(control.name);
    }
    return hidden;
  }

  // Show and hide the fieldsets; returns the hidden names.
  function applyVisibility(root, controls, result) {
    const hidden = hiddenControls(controls, result);
    for (const control of controls) {
      if (!control.visible_when || control.visible_when === "region-selected") continue; // annotate_linked.js
      const fieldset = root.querySelector(`[data-control="${CSS.escape(control.name)}"]`);
      if (fieldset) fieldset.hidden = hidden.has(control.name);
    }
    return hidden;
  }

  // ------------------------------------------------------------------ Number and DateTime
  const VALUE_TYPES = new Set(["number", "datetime"]);

  function valueInput(fieldset) {
    return fieldset.querySelector("[data-value-input]");
  }

  // The result value of a Number or DateTime fieldset; null while it is empty or not valid.
  function readValue(control, fieldset) {
    const input = valueInput(fieldset);
    if (!input || input.value === "" || (input.validity && input.validity.badInput)) return null;
    if (control.type === "number") {
      const n = Number(input.value);
      return Number.isFinite(n) ? { number: n } : null;
    }
    return { datetime: input.value };
  }

  function writeValue(control, fieldset, value) {
    const input = valueInput(fieldset);
    if (!input) return;
    const v = value ? value[control.type] : null;
    input.value = v === null || v === undefined ? "" : String(v);
  }

  // ------------------------------------------------------------------ labels from task data
  // Label names from the task's field, as Label Studio reads them: a name, or an object whose
  // alias (else value) is the name. Mirrors labeling.schema.validate.data_labels.
  function dataLabels(control, data) {
    const options = data && control.labels_key ? data[control.labels_key] : null;
    const names = [];
    for (const option of Array.isArray(options) ? options : []) {
      const name = option && typeof option === "object" ? (option.alias || option.value) : option;
      if (["string", "number"].includes(typeof name) && !names.includes(String(name))) names.push(String(name));
    }
    return names;
  }

  // (Re)make the inputs of every control whose labels come from task data; ``keys`` maps a
  // label key to {control, label} and gets 1-9 for the options where those digits are free.
  // Returns the keys it added, and calls ``onChange(input)`` when an input changes.
  function renderDataLabels(root, controls, data, keys, onChange) {
    const added = [];
    for (const control of controls) {
      if (!control.labels_key) continue;
      const group = root.querySelector(`[data-data-labels="${CSS.escape(control.name)}"]`);
      if (!group) continue;
      group.querySelectorAll(".is-from-data").forEach((node) => node.remove());
      const names = dataLabels(control, data);
      const digits = "123456789".split("").filter((d) => !keys.has(d));
      const single = control.type !== "choices" || control.choice !== "multiple";
      names.forEach((name) => {
        const label = document.createElement("label");
        label.className = "anno-label is-from-data";
        label.dataset.label = name;
        const input = document.createElement("input");
        input.type = control.type === "choices" && !single ? "checkbox" : "radio";
        input.name = (control.type === "choices" ? "c-" : "active-") + control.name;
        input.value = name;
        const text = document.createElement("span");
        text.className = "anno-label-name";
        text.textContent = name;
        label.append(input, text);
        const key = digits.shift();
        if (key) {
          keys.set(key, { control, label: name });
          added.push(key);
          input.setAttribute("aria-keyshortcuts", key);
          const kbd = document.createElement("kbd");
          kbd.setAttribute("aria-hidden", "true");
          kbd.textContent = key;
          label.append(kbd);
        }
        input.addEventListener("change", () => onChange(input));
        group.append(label);
      });
      const empty = group.querySelector("[data-no-labels]");
      if (empty) empty.hidden = names.length > 0 || group.querySelectorAll(".anno-label").length > 0;
    }
    return added;
  }

  // ------------------------------------------------------------------ task data shown as text
  function shownText(value) {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  // Headers whose value is a task data field.
  function fillNotes(root, data) {
    root.querySelectorAll("[data-note-key]").forEach((node) => {
      node.textContent = shownText(data ? data[node.dataset.noteKey] : undefined);
    });
  }

  // What a <Text> shows (``shown``) and the text its results carry (``text``): a list of
  // paragraphs is shown one a line and is Label Studio's String(list) in results.
  function textOf(value) {
    if (Array.isArray(value) && value.every((p) => typeof p === "string")) {
      return { shown: value.join("\n"), text: value.join(",") };
    }
    const text = typeof value === "string" ? value : (value === undefined ? "" : JSON.stringify(value));
    return { shown: text, text };
  }

  window.labelfabControls = {
    VALUE_TYPES, hiddenControls, applyVisibility, readValue, writeValue, dataLabels, renderDataLabels,
    fillNotes, textOf,
  };
})();
