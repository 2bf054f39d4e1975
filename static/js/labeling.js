/* Labeling page: keyboard shortcuts, autosave with optimistic locking, text spans.
 *
 * Works under the enforced CSP: no inline script, no eval, no inline styles. Initial state comes
 * from the json_script element #label-data. Every change is autosaved (debounced 500 ms) to the
 * API's one label contract, the endpoint every client uses:
 *   POST {"labels": [{clause, verdict, severity, rationale, spans, revision}], "submit": false}
 * with the revision the page holds; a 409 carries each stale label as it is on the server, and the
 * reviewer resolves it field by field (keep mine or take theirs for the verdict, severity,
 * rationale and spans), seeing the other tab's values in full. Submitting posts the same contract
 * with "submit": true; a refusal names the clauses still without a verdict, which the page lists
 * (with "mark the rest not applicable" one key away). A campaign that accepts partial submissions
 * gets a confirmation first, and "n" on an unsubmitted item asks to submit or skip it first.
 */
(function () {
  "use strict";

  // The page part (#labeling-root) is mounted once on load and again each time Submit-and-next
  // swaps the next item in; listeners on document and window end with their mount (``signal``),
  // listeners on the part's elements go with the replaced nodes.
  function mount(notice) {
    const dataElement = document.getElementById("label-data");
    if (!dataElement) return;
    const lifetime = new AbortController();
    const signal = lifetime.signal;
    const config = JSON.parse(dataElement.textContent);
    const editable = Boolean(config.editable);
    const verdictLabels = Object.fromEntries(config.verdicts.map((v) => [v.value, v.label]));
    const cards = Array.from(document.querySelectorAll(".clause-card"));
    const saveState = document.getElementById("save-state");
    const search = document.getElementById("clause-search");
    const overlay = document.getElementById("shortcuts");
    const doneCount = document.getElementById("done-count");
    const missingBox = document.getElementById("missing");
    const confirmBox = document.getElementById("confirm-partial");
    const nextPrompt = document.getElementById("next-prompt");
    const overlays = [overlay, confirmBox, nextPrompt].filter(Boolean);
    const FIELDS = ["verdict", "severity", "rationale", "spans"];
    const highlights = typeof CSS !== "undefined" && CSS.highlights ? CSS.highlights : null;

    // clause id -> {verdict, severity, rationale, spans, revision, base, timer, saving, dirty,
    // conflict}; ``base`` is the label as the server last confirmed it, so a conflict can tell
    // which fields this tab changed.
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
        base: fieldsOf(label),
        timer: null,
        saving: null,
        dirty: false,
        conflict: null,
      };
      renderSpans(card);
    }

    function fieldsOf(label) {
      return {
        verdict: label ? label.verdict : "",
        severity: label ? label.severity : "",
        rationale: label ? label.rationale : "",
        spans: label ? label.spans.slice() : [],
      };
    }

    function sameValue(a, b) {
      return JSON.stringify(a) === JSON.stringify(b);
    }

    function updateProgress() {
      const done = Object.values(state).filter((s) => s.verdict).length;
      if (doneCount) doneCount.textContent = String(done);
      if (missingBox && !missingBox.hidden) {
        const left = blankCards();
        if (!left.length) missingBox.hidden = true;
        else showMissing(left.map((card) => card.dataset.key));
      }
    }

    function blankCards() {
      return cards.filter((card) => !state[card.dataset.clause].verdict);
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
            s.base = fieldsOf(body.labels[0]);
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

    function shown(field, value) {
      if (field === "verdict") return verdictLabels[value] || value || "no verdict";
      if (field === "severity") return value || "none";
      if (field === "rationale") return value ? value : "(empty)";
      if (!value.length) return "no spans";
      return value.map((span) => "#" + (span.message_index + 1) + " “" + span.text + "”").join("; ");
    }

    const FIELD_NAMES = {
      verdict: "Verdict",
      severity: "Severity",
      rationale: "Rationale",
      spans: "Spans",
    };

    function choice(name, which, text, value, checked) {
      const label = document.createElement("label");
      label.className = "choice";
      const input = document.createElement("input");
      input.type = "radio";
      input.name = name;
      input.value = which;
      input.checked = checked;
      const words = document.createElement("span");
      const lead = document.createElement("strong");
      lead.textContent = text + ": ";
      const body = document.createElement("span");
      body.className = "value";
      body.textContent = value;
      words.append(lead, body);
      label.append(input, words);
      return label;
    }

    // A 409: the other tab's (or person's) label is shown field by field next to this tab's, and
    // each differing field is resolved on its own: keep mine or take theirs. A field only one side
    // changed starts on that side's value, so applying as offered loses neither side's work.
    function showConflict(id, current) {
      const s = state[id];
      s.conflict = current || { revision: null };
      const box = cardFor(id).querySelector(".conflict");
      box.replaceChildren();
      const intro = document.createElement("p");
      if (!current) {
        intro.textContent = "This label was removed on the server (another tab or a person).";
        const keep = button("Keep mine", "small", () => resolve(id, {}));
        const drop = button("Drop mine", "small secondary", () => {
          Object.assign(s, fieldsOf(null), { revision: null, conflict: null, dirty: false });
          box.hidden = true;
          applyToCard(id);
          setStatus("Saved");
        });
        box.append(intro, keep, " ", drop);
        box.hidden = false;
        return;
      }
      intro.textContent =
        "Another tab (or someone) changed this label since you loaded it (now revision " +
        current.revision +
        "). Choose per field:";
      box.append(intro);
      const differing = FIELDS.filter((field) => !sameValue(s[field], current[field]));
      const form = document.createElement("div");
      form.className = "conflict-fields";
      for (const field of differing) {
        const group = document.createElement("fieldset");
        group.dataset.field = field;
        const legend = document.createElement("legend");
        legend.textContent = FIELD_NAMES[field];
        const name = "resolve-" + id + "-" + field;
        const mineChanged = !sameValue(s[field], s.base[field]);
        group.append(
          legend,
          choice(name, "mine", "Keep mine", shown(field, s[field]), mineChanged),
          choice(name, "theirs", "Take theirs", shown(field, current[field]), !mineChanged),
        );
        form.append(group);
      }
      const actions = document.createElement("div");
      actions.className = "conflict-actions";
      actions.append(
        button("Save these choices", "small", () => {
          const picks = {};
          for (const group of form.querySelectorAll("fieldset")) {
            const picked = group.querySelector("input:checked");
            picks[group.dataset.field] = picked ? picked.value : "mine";
          }
          resolve(id, picks);
        }),
        button("Take all theirs", "small secondary", () => {
          resolve(id, Object.fromEntries(differing.map((field) => [field, "theirs"])));
        }),
      );
      box.append(form, actions);
      box.hidden = false;
    }

    function button(text, className, onClick) {
      const element = document.createElement("button");
      element.type = "button";
      element.className = className;
      element.textContent = text;
      element.addEventListener("click", onClick);
      return element;
    }

    // Apply the per-field picks onto the server's current label and save the result on its
    // revision (nothing to save when every pick is theirs).
    function resolve(id, picks) {
      const s = state[id];
      const current = s.conflict && s.conflict.revision !== null ? s.conflict : null;
      s.conflict = null;
      cardFor(id).querySelector(".conflict").hidden = true;
      let changed = !current;
      if (current) {
        for (const field of FIELDS) {
          if (sameValue(s[field], current[field])) continue;
          // A field the choices did not show (edited since) stays as this tab has it.
          if (picks[field] === "theirs") {
            s[field] = field === "spans" ? current.spans.slice() : current[field];
          } else {
            changed = true;
          }
        }
        s.base = fieldsOf(current);
      }
      s.revision = current ? current.revision : null;
      applyToCard(id);
      updateProgress();
      if (changed) {
        s.dirty = true;
        save(id);
      } else {
        s.dirty = false;
        setStatus(anyPending() ? "Saving…" : "Saved");
      }
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
          updateProgress();
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

    // ----- submitting -----------------------------------------------------------------------------
    function showMissing(keys) {
      if (!missingBox) return;
      const list = missingBox.querySelector(".missing-list");
      list.replaceChildren();
      keys.forEach((key, index) => {
        const link = document.createElement("a");
        link.href = "#clause-" + key;
        link.textContent = key;
        list.append(link);
        if (index < keys.length - 1) list.append(" ");
      });
      missingBox.hidden = false;
    }

    // Give every clause still without a verdict the scale's "not applicable" (one key: a).
    function markRestNotApplicable() {
      if (!editable || !config.notApplicable) return;
      const blank = blankCards();
      for (const card of blank) {
        const input = card.querySelector('input[type="radio"][value="' + config.notApplicable + '"]');
        if (!input) continue;
        input.checked = true;
        state[card.dataset.clause].verdict = config.notApplicable;
        card.classList.add("done");
        schedule(card.dataset.clause);
      }
      if (missingBox) missingBox.hidden = true;
      updateProgress();
      setStatus(
        "Marked " + blank.length + " clause" + (blank.length === 1 ? "" : "s") + " not applicable",
      );
    }

    // Wait for saves already on the wire (their revisions are needed), but send nothing more: the
    // labels still waiting for their autosave go with the submit, in its one request.
    function settleInFlight() {
      const inFlight = Object.values(state)
        .map((s) => s.saving)
        .filter(Boolean);
      return Promise.all(inFlight).then(() => !Object.values(state).some((s) => s.conflict));
    }

    function submitItem() {
      if (!config.inProgress || !document.getElementById("submit-form")) return;
      closeOverlays();
      setStatus("Submitting…");
      settleInFlight().then((ok) => {
        if (!ok) {
          setStatus("Resolve the conflicts before submitting", true);
          return;
        }
        const blank = blankCards();
        if (blank.length && blank.length < cards.length && !config.requireEveryClause) {
          askToConfirm(blank);
          return;
        }
        // Every-clause campaigns are checked by the server, which names what is missing.
        sendSubmit();
      });
    }

    // The labels this tab changed and has not saved yet: they travel with the submit.
    function takePending() {
      const ids = Object.keys(state).filter((id) => {
        const s = state[id];
        return !s.conflict && !s.saving && (s.dirty || s.timer);
      });
      for (const id of ids) {
        clearTimeout(state[id].timer);
        state[id].timer = null;
        state[id].dirty = false;
      }
      return ids;
    }

    // A refused submit writes nothing: the labels it carried go back to their autosave.
    function giveBack(ids) {
      for (const id of ids) {
        if (!state[id].conflict) schedule(id);
      }
    }

    // Save what is pending, submit and receive the next item's page: one request on the wire.
    function sendSubmit() {
      setStatus("Submitting…");
      const ids = takePending();
      const labels = ids.map((id) => payload(id).labels[0]);
      fetch(config.saveUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/html, application/json;q=0.9",
          "X-CSRFToken": csrfToken(),
        },
        body: JSON.stringify({ labels, submit: true, next: true }),
      })
        .then((response) => {
          if (response.ok) {
            const url = response.headers.get("X-Next-Location") || "";
            return response.text().then((html) => {
              if (html.trim()) swapIn(html, url);
              else window.location.assign(url);
            });
          }
          return response
            .json()
            .catch(() => ({}))
            .then((data) => refused(response, data, ids));
        })
        .catch(() => {
          giveBack(ids);
          setStatus("Offline: not submitted, try again", true);
        });
    }

    function refused(response, data, ids) {
      if (response.status === 409) {
        for (const entry of data.current || []) {
          if (state[entry.clause]) showConflict(String(entry.clause), entry.label);
        }
        giveBack(ids);
        setStatus("Conflict: see the clause, then submit again", true);
        return;
      }
      giveBack(ids);
      if (data && Array.isArray(data.missing_clauses) && data.missing_clauses.length) {
        showMissing(data.missing_clauses);
        setStatus(data.missing_clauses.length + " clauses still need a verdict", true);
        return;
      }
      setStatus(errorText(data), true);
    }

    function askToConfirm(blank) {
      if (!confirmBox) return;
      confirmBox.querySelector(".blank-count").textContent =
        blank.length + " of " + cards.length + " clauses";
      const list = confirmBox.querySelector(".blank-list");
      list.replaceChildren(
        ...blank.map((card) => {
          const item = document.createElement("li");
          item.textContent = card.dataset.key;
          return item;
        }),
      );
      openOverlay(confirmBox, document.getElementById("confirm-partial-submit"));
    }

    // ----- overlays -----------------------------------------------------------------------------
    function openOverlay(element, focus) {
      closeOverlays();
      element.hidden = false;
      if (focus) focus.focus();
    }

    function closeOverlays() {
      overlays.forEach((element) => {
        element.hidden = true;
      });
    }

    function overlayOpen() {
      return overlays.some((element) => !element.hidden);
    }

    function toggleOverlay(show) {
      const open = show === undefined ? overlay.hidden : show;
      if (open) openOverlay(overlay, document.getElementById("shortcuts-close"));
      else overlay.hidden = true;
    }
    document.getElementById("shortcuts-close").addEventListener("click", () => toggleOverlay(false));
    overlays.forEach((element) =>
      element.querySelectorAll("[data-close]").forEach((close) =>
        close.addEventListener("click", () => {
          element.hidden = true;
          const card = activeCard();
          if (card) card.focus({ preventScroll: true });
        }),
      ),
    );

    const submitForm = document.getElementById("submit-form");
    if (submitForm) {
      submitForm.addEventListener("submit", (event) => {
        event.preventDefault();
        submitItem();
      });
    }
    document.getElementById("confirm-partial-submit")?.addEventListener("click", () => {
      closeOverlays();
      sendSubmit();
    });
    document.getElementById("mark-rest")?.addEventListener("click", markRestNotApplicable);
    document.getElementById("next-submit")?.addEventListener("click", submitItem);
    document.getElementById("next-skip")?.addEventListener("submit", (event) => {
      event.preventDefault();
      const reason = event.target.querySelector('input[name="reason"]').value;
      const skipForm = document.getElementById("skip-form");
      skipForm.querySelector('input[name="reason"]').value = reason;
      flushAll().then(() => skipForm.submit());
    });

    // "n": the next item. An item still in progress is not left silently: submit or skip it first.
    function nextItem() {
      if (config.inProgress && nextPrompt) {
        openOverlay(nextPrompt, document.getElementById("next-submit"));
        return;
      }
      flushAll().then(() => {
        (document.getElementById("next-form") || document.getElementById("claim-form")).submit();
      });
    }

    // ----- cross-references ---------------------------------------------------------------------
    // A reference to a clause in scope goes to its card on this page; any other opens the clause
    // in the spec, in a new tab, so unsaved work here is never navigated away from.
    function showCard(card) {
      if (card.hidden && search) {
        search.value = "";
        search.dispatchEvent(new Event("input"));
      }
      setActive(card);
    }

    document.addEventListener(
      "click",
      (event) => {
        const link = event.target.closest && event.target.closest('a[href^="#clause-"]');
        if (!link) return;
        const card = document.getElementById(link.getAttribute("href").slice(1));
        if (!card || !card.classList.contains("clause-card")) return;
        event.preventDefault();
        showCard(card);
      },
      { signal },
    );
    for (const link of document.querySelectorAll(".clause-card .prose a[href]")) {
      if (!link.getAttribute("href").startsWith("#")) {
        link.target = "_blank";
        link.rel = "noopener noreferrer";
      }
    }

    // ----- keyboard -----------------------------------------------------------------------------
    document.addEventListener(
      "keydown",
      (event) => {
        const target = event.target;
        const inField = target.matches && target.matches("input, textarea, select");
        if ((event.ctrlKey || event.metaKey || event.shiftKey) && event.key === "Enter") {
          if (target.matches && target.matches("#skip-form input, #next-skip input")) return;
          event.preventDefault();
          submitItem();
          return;
        }
        if (event.key === "Escape") {
          if (overlayOpen()) {
            closeOverlays();
            const card = activeCard();
            if (card) card.focus({ preventScroll: true });
          } else if (inField) {
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
        if (overlayOpen()) return;
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
          case "a":
            // Only while the page lists missing verdicts: one key must never label silently.
            if (!missingBox || missingBox.hidden) return;
            markRestNotApplicable();
            break;
          case "n":
            nextItem();
            break;
          default:
            return;
        }
        event.preventDefault();
      },
      { signal },
    );

    window.addEventListener(
      "beforeunload",
      (event) => {
          if (anyPending()) {
            event.preventDefault();
            event.returnValue = "";
          }
      },
      { signal },
    );

    // ----- the next item, in place ----------------------------------------------------------------
    // Submit-and-next answers with the next item's page part (the template part this page is
    // rendered from): it replaces this one, the address bar follows, and the page mounts again.
    function swapIn(html, url) {
      const template = document.createElement("template");
      template.innerHTML = html;
      const fresh = template.content.getElementById("labeling-root");
      const root = document.getElementById("labeling-root");
      if (!fresh || !root) {
        window.location.assign(url);
        return;
      }
      lifetime.abort();
      root.replaceWith(fresh);
      document.title = fresh.dataset.title || document.title;
      window.history.pushState({ labeling: true }, "", fresh.dataset.url || url);
      if (window.htmx) window.htmx.process(fresh);
      window.scrollTo(0, 0);
      mount("Submitted. Here is the next item.");
    }

    if (cards.length) setActive(cards[0], false);
    if (notice) setStatus(notice);
  }

  mount();
  // Back and forward after a swap: the address is another item's page; load it as it is now.
  window.addEventListener("popstate", () => window.location.reload());
})();
