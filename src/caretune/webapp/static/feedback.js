// Feedback on one bot reply: thumbs up/down and an optional corrected answer. What is saved here is what
// `caretune feedback export` turns into training data, so the controls say plainly what they record.

import { api } from "./api.js";
import { announce, el } from "./dom.js";

// A thumb drawn as SVG: emoji depend on the system's fonts, which a server-side kiosk may not have.
const THUMB_PATH =
  "M2 21h4V9H2v12zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3c0-.4-.2-.8-.4-1.1L13.2 1 6.6 7.6C6.2 8 6 8.5 6 9v10a2 2 0 0 0 2 2h9c.8 0 1.5-.5 1.8-1.2l3-7.1c.1-.2.2-.5.2-.7v-2z";

function thumb() {
  const ns = "http://www.w3.org/2000/svg";
  const icon = document.createElementNS(ns, "svg");
  icon.setAttribute("viewBox", "0 0 24 24");
  icon.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(ns, "path");
  path.setAttribute("d", THUMB_PATH);
  icon.append(path);
  return icon;
}

function ratingButton(label, direction, onClick) {
  const attrs = { type: "button", class: `rate ${direction}`, "aria-label": label, title: label, "aria-pressed": "false" };
  return el("button", { ...attrs, onclick: onClick }, thumb());
}

/** The feedback controls of `message` (a bot reply) in conversation `conversationId`. */
export function feedbackControls(conversationId, message) {
  let saved = { rating: message.feedback?.rating ?? null, correction: message.feedback?.correction ?? null };
  const path = `/v1/conversations/${conversationId}/messages/${message.id}/feedback`;
  const status = el("span", { class: "feedback-status" });
  const textarea = el("textarea", { rows: "3", "aria-label": "Corrected answer" });
  const up = ratingButton("Good answer", "up", () => save({ ...saved, rating: saved.rating === "up" ? null : "up" }));
  const down = ratingButton("Bad answer", "down", () => save({ ...saved, rating: saved.rating === "down" ? null : "down" }));
  const correct = el("button", { type: "button", class: "link", "aria-expanded": "false" }, "Suggest a better answer");
  const form = el(
    "form",
    { class: "correction", hidden: true },
    textarea,
    el("button", { type: "submit" }, "Save correction"),
  );

  function paint() {
    up.setAttribute("aria-pressed", String(saved.rating === "up"));
    down.setAttribute("aria-pressed", String(saved.rating === "down"));
    textarea.value = saved.correction ?? "";
  }

  async function save(next) {
    try {
      saved = await api(path, { method: "PUT", body: next });
      paint();
      status.textContent = "Feedback saved";
      announce("Feedback saved");
    } catch (err) {
      status.textContent = `Not saved: ${err.message}`;
    }
  }

  correct.addEventListener("click", () => {
    form.hidden = !form.hidden;
    correct.setAttribute("aria-expanded", String(!form.hidden));
    if (!form.hidden) textarea.focus();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    save({ ...saved, correction: textarea.value });
  });
  paint();
  return el("div", { class: "feedback", role: "group", "aria-label": "Feedback on this reply" }, up, down, correct, status, form);
}
