/* Labeling page: keyboard shortcuts, autosave with optimistic locking, text spans.
 *
 * Works under the enforced CSP: no inline script, no eval, no inline styles. Initial state comes
 * from the json_script element #label-data. Every change is autosaved (debounced 500 ms) to the
 * API's one label contract, the endpoint every client uses:
 *   POST {"labels": [{clause, verdict, severity, rationale, spans, revision}], "submit": false}
 * with the revision the page holds; a 409 carries each stale label as it is on the server, and the
 * reviewer keeps theirs (resave on the new revision) or takes the server's.
 */
(function () {
  "use strict";

  const dataElement = document.getElementById("label-data");
  if (!dataElement) return;
  const config = JSON.parse(dataElement.textContent);
  const editable = Boolean(config.editable);
  const verdictLabels = Object.fromEntries(config.verdicts.map((v) => [v.value, v.label]));
  const cards = Array.from(document.querySelectorAll(".clause-card"));
  const saveState = document.getElementById("save-state");
  const search = document.getElementById("clause-search");
  const overlay = document.getElementById("shortcuts");
  const highlights = typeof CSS !== "undefined" && CSS.highlights ? CSS.highlights : null;

  // clause id -> {verdict, severity, rationale, spans, revision, timer, saving, dirty, conflict}
  const state = {};
  for (const card of cards) {
    const id = card.dataset.clause;
    const label = config.labels[id];
    state[id] = {
      verdict: label ? label.verdict : "",
      severity: label ? label.severity : "",
      rationale: label ? label.rationale : "",
      spans: label ? label.spans.slice() : [],
      revision: label ? label.revision : null,
      timer: null,
      saving: null,
      dirty: false,
      conflict: null,
    };
    renderSpans(card);
  }
  let active = -1;

  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (error) {
      return "";
    }
  }

  function setStatus(text, isError) {
    if (!saveState) return;
    saveState.textContent = text;
    saveState.classList.toggle("error", Boolean(isError));
  }

  function visibleCards() {
    return cards.filter((card) => !card.hidden);
  }

  function setActive(card, focus) {
    if (!card) return;
    cards.forEach((c) => c.classList.toggle("active", c === card));
    active = cards.indexOf(card);
    card.scrollIntoView({ block: "nearest" });
    if (focus !== false) card.focus({ preventScroll: true });
    paintHighlights();
  }

  function activeCard() {
    return active >= 0 ? cards[active] : null;
  }

  function move(step) {
    const list = visibleCards();
    if (!list.length) return;
    const index = list.indexOf(activeCard());
    const next = index < 0 ? 0 : Math.min(list.length - 1, Math.max(0, index + step));
    setActive(list[next]);
  }

  // ----- saving -------------------------------------------------------------------------------
  function payload(id) {
    const s = state[id];
    return {
      labels: [
        {
          clause: Number(id),
          verdict: s.verdict,
          severity: s.severity,
          rationale: s.rationale,
          spans: s.spans,
          revision: s.revision,
        },
      ],
      submit: false,
    };
  }

  function errorText(body) {
    if (!body || typeof body !== "object") return "Not saved";
    if (body.detail) return body.detail;
    const messages = Object.values(body).flat().filter((m) => typeof m === "string");
    return messages.length ? messages.join(" ") : "Not saved";
  }

  function schedule(id) {
    const s = state[id];
    s.dirty = true;
    clearTimeout(s.timer);
    setStatus("Saving…");
    s.timer = setTimeout(() => save(id), 500);
  }

  function save(id) {
    const s = state[id];
    clearTimeout(s.timer);
    s.timer = null;
    if (s.conflict) return Promise.resolve(false);
    if (s.saving) return s.saving.then(() => (s.dirty ? save(id) : true));
    if (!s.dirty) return Promise.resolve(true);
    s.dirty = false;
    setStatus("Saving…");
    s.saving = fetch(config.saveUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify(payload(id)),
    })
      .then((response) => response.json().then((body) => ({ response, body })))
      .then(({ response, body }) => {
        s.saving = null;
        if (response.ok) {
          s.revision = body.labels[0].revision;
          cardFor(id).classList.toggle("done", Boolean(s.verdict));
          if (s.dirty) return save(id);
          setStatus(anyPending() ? "Saving…" : "Saved");
          return true;
        }
        if (response.status === 409) {
          const stale = (body.current || []).find((entry) => String(entry.clause) === String(id));
          showConflict(id, stale ? stale.label : null);
          setStatus("Conflict: see the clause", true);
          return false;
        }
        setStatus(errorText(body), true);
        return false;
      })
      .catch(() => {
        s.saving = null;
        s.dirty = true;
        setStatus("Offline: not saved yet, retrying…", true);
        s.timer = setTimeout(() => save(id), 3000);
        return false;
      });
    return s.saving;
  }

  function anyPending() {
    return Object.values(state).some((s) => s.dirty || s.saving || s.timer);
  }

  function flushAll() {
    return Promise.all(Object.keys(state).map((id) => save(id))).then((results) =>
      results.every(Boolean),
    );
  }

  function cardFor(id) {
    return cards.find((card) => card.dataset.clause === String(id));
  }

  function describe(current) {
    if (!current) return "The label was removed on the server.";
    const parts = [verdictLabels[current.verdict] || current.verdict || "no verdict"];
    if (current.severity) parts.push("severity " + current.severity);
    if (current.rationale) parts.push("“" + current.rationale.slice(0, 200) + "”");
    return parts.join(" · ") + " (revision " + current.revision + ")";
  }

  function showConflict(id, current) {
    const s = state[id];
    s.conflict = current || { revision: null };
    const box = cardFor(id).querySelector(".conflict");
    box.replaceChildren();
    const text = document.createElement("p");
    text.textContent = "Someone (or another tab) changed this label. On the server now: ";
    const strong = document.createElement("strong");
    strong.textContent = describe(current);
    text.append(strong);
    const keep = document.createElement("button");
    keep.type = "button";
    keep.className = "small";
    keep.textContent = "Keep mine";
    keep.addEventListener("click", () => {
      s.revision = current ? current.revision : null;
      s.conflict = null;
      box.hidden = true;
      s.dirty = true;
      save(id);
    });
    const take = document.createElement("button");
    take.type = "button";
    take.className = "small secondary";
    take.textContent = "Take theirs";
    take.addEventListener("click", () => {
      s.conflict = null;
      box.hidden = true;
      s.verdict = current ? current.verdict : "";
      s.severity = current ? current.severity : "";
      s.rationale = current ? current.rationale : "";
      s.spans = current ? current.spans.slice() : [];
      s.revision = current ? current.revision : null;
      s.dirty = false;
      applyToCard(id);
      setStatus("Saved");
    });
    box.append(text, keep, " ", take);
    box.hidden = false;
  }

  function applyToCard(id) {
    const s = state[id];
    const card = cardFor(id);
    card.querySelectorAll('input[type="radio"]').forEach((input) => {
      input.checked = input.value === s.verdict;
    });
    card.querySelector('select[name="severity"]').value = s.severity;
    card.querySelector('textarea[name="rationale"]').value = s.rationale;
    card.classList.toggle("done", Boolean(s.verdict));
    renderSpans(card);
    paintHighlights();
  }

  // ----- spans ---------------------------------------------------------------------------------
  function textOffset(container, node, offset) {
    const range = document.createRange();
    range.selectNodeContents(container);
    range.setEnd(node, offset);
    return range.toString().length;
  }

  function addSpanFromSelection() {
    const card = activeCard();
    const selection = window.getSelection();
    if (!card || !editable || !selection || selection.isCollapsed) {
      setStatus("Select text in a message first, then press h", true);
      return;
    }
    const range = selection.getRangeAt(0);
    const startHost = range.startContainer.parentElement?.closest(".span-source");
    const endHost = range.endContainer.parentElement?.closest(".span-source");
    if (!startHost || startHost !== endHost) {
      setStatus("A span must lie inside one message", true);
      return;
    }
    const message = startHost.closest("[data-message-index]");
    const start = textOffset(startHost, range.startContainer, range.startOffset);
    const end = textOffset(startHost, range.endContainer, range.endOffset);
    if (end <= start) return;
    const id = card.dataset.clause;
    state[id].spans.push({
      message_index: Number(message.dataset.messageIndex),
      start,
      end,
      text: selection.toString().slice(0, 4000),
    });
    selection.removeAllRanges();
    renderSpans(card);
    paintHighlights();
    schedule(id);
  }

  function renderSpans(card) {
    const id = card.dataset.clause;
    const list = card.querySelector(".spans");
    list.replaceChildren();
    state[id].spans.forEach((span, index) => {
      const item = document.createElement("li");
      item.textContent = "#" + (span.message_index + 1) + ": “" + span.text.slice(0, 80) + "” ";
      if (editable) {
        const remove = document.createElement("button");
        remove.type = "button";
        remove.className = "linklike small";
        remove.textContent = "remove";
        remove.addEventListener("click", () => {
          state[id].spans.splice(index, 1);
          renderSpans(card);
          paintHighlights();
          schedule(id);
        });
        item.append(remove);
      }
      list.append(item);
    });
  }

  function rangeFor(span) {
    const host = document.querySelector(
      '[data-message-index="' + span.message_index + '"] .span-source',
    );
    if (!host) return null;
    const walker = document.createTreeWalker(host, NodeFilter.SHOW_TEXT);
    let seen = 0;
    let startNode = null;
    let startOffset = 0;
    const range = document.createRange();
    while (walker.nextNode()) {
      const node = walker.currentNode;
      const length = node.nodeValue.length;
      if (!startNode && span.start < seen + length) {
        startNode = node;
        startOffset = span.start - seen;
        range.setStart(node, startOffset);
      }
      if (startNode && span.end <= seen + length) {
        range.setEnd(node, span.end - seen);
        return range;
      }
      seen += length;
    }
    return null;
  }

  function paintHighlights() {
    if (!highlights) return;
    const card = activeCard();
    const ranges = [];
    if (card) {
      for (const span of state[card.dataset.clause].spans) {
        const range = rangeFor(span);
        if (range) ranges.push(range);
      }
    }
    highlights.set("label-span", new Highlight(...ranges));
  }

  // ----- field events --------------------------------------------------------------------------
  for (const card of cards) {
    const id = card.dataset.clause;
    card.addEventListener("focusin", () => {
      if (activeCard() !== card) setActive(card, false);
    });
    card.addEventListener("click", () => {
      if (activeCard() !== card) setActive(card, false);
    });
    card.querySelectorAll('input[type="radio"]').forEach((input) => {
      input.addEventListener("change", () => {
        state[id].verdict = input.value;
        card.classList.add("done");
        schedule(id);
      });
    });
    card.querySelector('select[name="severity"]').addEventListener("change", (event) => {
      state[id].severity = event.target.value;
      schedule(id);
    });
    card.querySelector('textarea[name="rationale"]').addEventListener("input", (event) => {
      state[id].rationale = event.target.value;
      schedule(id);
    });
    card.querySelector(".add-span").addEventListener("click", addSpanFromSelection);
  }

  if (search) {
    search.addEventListener("input", () => {
      const terms = search.value.toLowerCase().trim().split(/\s+/).filter(Boolean);
      let shown = 0;
      for (const card of cards) {
        const haystack = card.dataset.search;
        card.hidden = !terms.every((term) => haystack.includes(term));
        if (!card.hidden) shown += 1;
      }
      const counter = document.getElementById("clause-count");
      if (counter) counter.textContent = shown + " of " + cards.length + " clauses";
      const first = visibleCards()[0];
      if (first) setActive(first, false);
    });
  }

  function pickVerdict(number) {
    const card = activeCard();
    if (!card || !editable) return;
    const inputs = card.querySelectorAll('input[type="radio"]');
    const input = inputs[number - 1];
    if (!input) return;
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function cycleSeverity() {
    const card = activeCard();
    if (!card || !editable) return;
    const select = card.querySelector('select[name="severity"]');
    select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
    select.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function submitItem() {
    const form = document.getElementById("submit-form");
    if (!form) return;
    setStatus("Saving before submit…");
    flushAll().then((ok) => {
      if (ok) form.submit();
      else setStatus("Resolve the conflicts before submitting", true);
    });
  }

  function toggleOverlay(show) {
    overlay.hidden = show === undefined ? !overlay.hidden : !show;
    if (!overlay.hidden) document.getElementById("shortcuts-close").focus();
  }
  document.getElementById("shortcuts-close").addEventListener("click", () => toggleOverlay(false));

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const inField = target.matches && target.matches("input, textarea, select");
    if ((event.ctrlKey || event.metaKey || event.shiftKey) && event.key === "Enter") {
      if (target.matches && target.matches("#skip-form input")) return;
      event.preventDefault();
      submitItem();
      return;
    }
    if (event.key === "Escape") {
      if (!overlay.hidden) toggleOverlay(false);
      else if (inField) {
        target.blur();
        const card = activeCard();
        if (card) card.focus({ preventScroll: true });
      }
      return;
    }
    if (inField || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") {
      event.preventDefault();
      toggleOverlay();
      return;
    }
    if (!overlay.hidden) return;
    if (/^[1-9]$/.test(event.key)) {
      event.preventDefault();
      if (active < 0) move(0);
      pickVerdict(Number(event.key));
      return;
    }
    const card = activeCard();
    switch (event.key) {
      case "j":
        move(active < 0 ? 0 : 1);
        break;
      case "k":
        move(-1);
        break;
      case "/":
        search?.focus();
        break;
      case "s":
        cycleSeverity();
        break;
      case "r":
        if (!card) move(0);
        activeCard()?.querySelector("textarea")?.focus();
        break;
      case "e":
        if (card) {
          const details = card.querySelector("details");
          details.open = !details.open;
        }
        break;
      case "h":
        addSpanFromSelection();
        break;
      case "n":
        flushAll().then(() => {
          (document.getElementById("next-form") || document.getElementById("claim-form")).submit();
        });
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  window.addEventListener("beforeunload", (event) => {
    if (anyPending()) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  if (cards.length) setActive(cards[0], false);
})();
