// The list of past conversations kept by the server: reopen one (on any device), or delete it.

import { api } from "./api.js";
import { el, when } from "./dom.js";

function item(conversation, currentId, { onOpen, onDelete }) {
  const current = conversation.id === currentId;
  const badge = conversation.handoff === "waiting" || conversation.handoff === "answered" ? " · with an agent" : "";
  return el(
    "li",
    { class: current ? "current" : null },
    el(
      "button",
      { type: "button", class: "open", "aria-current": current ? "true" : null, onclick: () => onOpen(conversation.id) },
      el("span", { class: "title", text: conversation.title }),
      el("span", { class: "when", text: when(conversation.updated_at) + badge }),
    ),
    el("button", {
      type: "button",
      class: "delete",
      "aria-label": `Delete conversation “${conversation.title}”`,
      title: "Delete",
      text: "✕",
      onclick: () => onDelete(conversation.id),
    }),
  );
}

/** Fill `list` with the server's conversations, newest first, marking `currentId`. */
export async function renderHistory(list, currentId, handlers) {
  const { data } = await api("/v1/conversations");
  const items = data.map((c) => item(c, currentId, handlers));
  list.replaceChildren(...(items.length ? items : [el("li", { class: "empty", text: "No conversations yet." })]));
}
