/* Adjudication page: the keyboard. Every form works without it; this only moves between clause
 * cards and drives their forms, so a case is settled without the mouse:
 *   1-9 gold verdict · s severity · r rationale · Ctrl/Shift+Enter record · n next pair or item
 *   j/k move · o reopen · e clause text · h history · t thread · ? help · Esc leave a field.
 *
 * Works under the enforced CSP: no inline script, no eval, no inline styles. Recording posts the
 * card's form as a page (the server answers with the page again, a 409 page when another
 * adjudicator decided meanwhile, or the next pair), so the keyboard and the form never disagree.
 * Keys follow the labeling page's (static/js/labeling.js).
 */
(function () {
  "use strict";

  const dataElement = document.getElementById("adjudication-data");
  if (!dataElement) return;
  const config = JSON.parse(dataElement.textContent);
  const cards = Array.from(document.querySelectorAll(".adj-card"));
  const overlay = document.getElementById("shortcuts");
  let active = -1;

  function setActive(index, focus) {
    if (index < 0 || index >= cards.length) return;
    active = index;
    cards.forEach((card, i) => card.classList.toggle("active", i === index));
    const card = cards[index];
    card.scrollIntoView({ block: "nearest" });
    if (focus !== false) card.focus({ preventScroll: true });
  }

  function activeCard() {
    return active >= 0 ? cards[active] : null;
  }

  function move(step) {
    if (!cards.length) return;
    setActive(active < 0 ? 0 : Math.min(cards.length - 1, Math.max(0, active + step)));
  }

  // The next card that still needs a decision after the active one; past the last, the next item.
  function nextPair() {
    for (let i = active + 1; i < cards.length; i += 1) {
      if (cards[i].dataset.needs === "1") {
        setActive(i);
        return;
      }
    }
    if (config.nextUrl) window.location.assign(config.nextUrl);
  }

  function decisionForm(card) {
    if (!card) return null;
    const form = card.querySelector(".decision-form");
    if (!form) return null;
    const details = form.closest("details");
    if (details) details.open = true;
    return form;
  }

  function pickVerdict(number) {
    const form = decisionForm(activeCard());
    if (!form) return;
    const input = form.querySelectorAll('input[name="verdict"]')[number - 1];
    if (input) input.checked = true;
  }

  function cycleSeverity() {
    const form = decisionForm(activeCard());
    if (!form) return;
    const select = form.querySelector('select[name="severity"]');
    select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
  }

  function focusRationale() {
    if (!activeCard()) move(0);
    const form = decisionForm(activeCard());
    if (form) form.querySelector('textarea[name="rationale"]').focus();
  }

  function record(form) {
    if (!form) return;
    // The browser's own checks first (a verdict and a rationale are required), then one post.
    if (form.dataset.sending) return;
    if (typeof form.reportValidity === "function" && !form.reportValidity()) return;
    form.dataset.sending = "1";
    form.querySelector('button[type="submit"]').disabled = true;
    form.submit();
  }

  function toggle(selector) {
    const card = activeCard();
    const details = card && card.querySelector(selector);
    if (details) details.open = !details.open;
  }

  function overlayOpen() {
    return overlay && !overlay.hidden;
  }

  function toggleOverlay(show) {
    if (!overlay) return;
    overlay.hidden = !(show === undefined ? overlay.hidden : show);
    if (!overlay.hidden) document.getElementById("shortcuts-close").focus();
  }
  document.getElementById("shortcuts-close")?.addEventListener("click", () => toggleOverlay(false));

  cards.forEach((card, index) => {
    card.addEventListener("focusin", () => {
      if (active !== index) setActive(index, false);
    });
    card.addEventListener("click", () => {
      if (active !== index) setActive(index, false);
    });
    card.querySelectorAll("form").forEach((form) => {
      form.addEventListener("submit", () => {
        const button = form.querySelector('button[type="submit"]');
        if (button) button.disabled = true; // one decision per press
      });
    });
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const inField = target.matches && target.matches("input, textarea, select");
    if ((event.ctrlKey || event.metaKey || event.shiftKey) && event.key === "Enter") {
      if (target.closest && target.closest(".reopen-form")) return; // Enter reopens there
      event.preventDefault();
      record(decisionForm(activeCard()));
      return;
    }
    if (event.key === "Escape") {
      if (overlayOpen()) toggleOverlay(false);
      else if (inField) target.blur();
      const card = activeCard();
      if (card) card.focus({ preventScroll: true });
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
      if (Number(event.key) > config.verdicts) return;
      event.preventDefault();
      if (active < 0) move(0);
      pickVerdict(Number(event.key));
      return;
    }
    switch (event.key) {
      case "j":
        move(active < 0 ? 0 : 1);
        break;
      case "k":
        move(-1);
        break;
      case "n":
        nextPair();
        break;
      case "s":
        cycleSeverity();
        break;
      case "r":
        focusRationale();
        break;
      case "o": {
        const reason = activeCard()?.querySelector('.reopen-form input[name="reason"]');
        if (!reason) return;
        reason.focus();
        break;
      }
      case "e":
        toggle("details.clause-text");
        break;
      case "h":
        toggle("details.adj-history");
        break;
      case "t": {
        const thread = activeCard()?.querySelector(".adj-thread a");
        if (!thread) return;
        window.location.assign(thread.href);
        break;
      }
      default:
        return;
    }
    event.preventDefault();
  });

  // Start at a refused decision (a 409 or 400 page), else where the address points (#pair-<key>,
  // from the queue), else at the first pair to decide.
  const refused = cards.findIndex((card) => card.querySelector(".conflict, .decision-form.refused"));
  const fromHash = cards.findIndex((card) => "#" + card.id === window.location.hash);
  const firstNeeding = cards.findIndex((card) => card.dataset.needs === "1");
  const start = [refused, fromHash, firstNeeding, 0].find((index) => index >= 0);
  if (cards.length) setActive(start);
})();
