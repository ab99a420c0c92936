// The agent view: conversations whose customer asked for a human, and a reply box that answers in the
// same thread the customer sees (their page polls for it). Handing back returns the thread to the bot.

import { api } from "./api.js";
import { allowed, connect, keyButton } from "./auth.js";
import { announce, byId, el, enterSends, showError, when } from "./dom.js";
import { AGENT_VIEW, renderThread } from "./thread.js";

const POLL_MS = 3000;
const state = { current: null, queueShown: "" };

function queueItem(conversation) {
  const label = conversation.handoff === "waiting" ? "waiting" : "answered";
  return el(
    "li",
    {},
    el(
      "button",
      { type: "button", class: "open", "aria-current": conversation.id === state.current?.id ? "true" : null, onclick: () => open(conversation.id).catch(fail) },
      el("span", { class: "title", text: conversation.title }),
      el("span", { class: `when state-${label}`, text: `${label} · ${when(conversation.updated_at)}` }),
    ),
  );
}

/** Redraw the queue only when it changed, so polling never steals a keyboard user's focus. */
async function refreshQueue() {
  const { data } = await api("/v1/conversations?needs_agent=true");
  const shown = JSON.stringify([state.current?.id, ...data.map((c) => [c.id, c.title, c.handoff, c.updated_at])]);
  if (shown === state.queueShown) return;
  state.queueShown = shown;
  const items = data.map(queueItem);
  byId("queue").replaceChildren(...(items.length ? items : [el("li", { class: "empty", text: "Nobody is waiting." })]));
}

// Why the bot handed a conversation over by itself, as an agent reads it.
const REASONS = {
  asked_for_person: "The customer asked for a person.",
  angry: "The customer sounded upset.",
  repeated_question: "The customer asked the same question again.",
  low_confidence: "The bot was not confident it could answer from the company's knowledge.",
};

function showHandoff(conversation) {
  byId("bot-handoff").hidden = !conversation.handoff_reason;
  byId("handoff-reason").textContent = REASONS[conversation.handoff_reason] ?? conversation.handoff_reason ?? "";
  byId("handoff-draft").textContent = conversation.handoff_draft ?? "";
  byId("use-draft").hidden = !conversation.handoff_draft;
}

function show(conversation) {
  const changed = conversation.messages.length !== state.current?.messages.length || conversation.id !== state.current?.id;
  state.current = conversation;
  byId("thread-title").textContent = conversation.title;
  byId("reply-form").hidden = false;
  showHandoff(conversation);
  if (changed) renderThread(byId("thread"), conversation, { speakers: AGENT_VIEW, withFeedback: false });
}

async function open(id) {
  show(await api(`/v1/conversations/${id}`));
  await refreshQueue();
  byId("reply").focus();
}

async function answer(event) {
  event.preventDefault();
  const text = byId("reply").value.trim();
  if (!text) return;
  showError("");
  await api(`/v1/conversations/${state.current.id}/messages`, { method: "POST", body: { role: "agent", content: text } });
  byId("reply").value = "";
  announce("Answer sent");
  await open(state.current.id);
}

async function handBack() {
  await api(`/v1/conversations/${state.current.id}/handoff`, { method: "DELETE" });
  announce("Handed back to the bot");
  state.current = null;
  byId("reply-form").hidden = true;
  byId("bot-handoff").hidden = true;
  byId("thread").replaceChildren();
  byId("thread-title").textContent = "Pick a conversation";
  await refreshQueue();
}

async function poll() {
  await refreshQueue();
  if (state.current) show(await api(`/v1/conversations/${state.current.id}`));
}

function fail(err) {
  showError(err.message);
}

async function start() {
  byId("reply-form").addEventListener("submit", (event) => answer(event).catch(fail));
  enterSends(byId("reply"), byId("reply-form"));
  byId("hand-back").addEventListener("click", () => handBack().catch(fail));
  byId("use-draft").addEventListener("click", () => {
    byId("reply").value = state.current?.handoff_draft ?? "";
    byId("reply").focus();
  });
  keyButton(byId("key-button"), () => location.reload());
  const me = await connect();
  const parts = [document.querySelector("aside"), byId("thread-title")];
  if (!allowed(me, "conversations.agent", "answer customers in the agent view", parts)) return;
  await refreshQueue();
  setInterval(() => poll().catch(fail), POLL_MS);
}

start().catch(fail);
