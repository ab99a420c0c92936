// The chat page: ask the bot (one model, or two side by side), watch the reply stream in, judge it, or hand
// the conversation to a human. The reply comes from /v1/chat/completions like any client's; naming the
// conversation makes the server keep the question and the reply under /v1/conversations (the page never
// posts the bot's words), so the thread survives a reload or another device.

import { api, ApiError, streamChat } from "./api.js";
import { allowed, connect, keyButton } from "./auth.js";
import { announce, byId, el, enterSends, showError } from "./dom.js";
import { feedbackControls } from "./feedback.js";
import { renderHistory } from "./history.js";
import { bubble, compareRow, historyFor, renderThread, sourcesLine } from "./thread.js";

const POLL_MS = 2000;
const WITH_AGENT = ["waiting", "answered"];
const state = { conversation: null, poll: null };
const input = byId("input");
const thread = byId("thread");

// ------------------------------------------------------------------ models

function fillPicker(select, models, saved) {
  select.replaceChildren(...models.map((m) => el("option", { value: m.id, text: m.id })));
  if (models.some((m) => m.id === saved)) select.value = saved;
}

function pickModels(listed) {
  const models = listed.filter((m) => m.root === m.id);  // an alias (ada, ...) is another name for one of these
  fillPicker(byId("model"), models, localStorage.getItem("caretune.model"));
  fillPicker(byId("model-b"), models, localStorage.getItem("caretune.modelB") ?? models[1]?.id);
}

/** The models to ask: the picked one, and the second one in compare mode. */
function lanes() {
  const first = byId("model").value;
  return byId("compare").checked ? [first, byId("model-b").value] : [first];
}

async function onModelChange() {
  localStorage.setItem("caretune.model", byId("model").value);
  localStorage.setItem("caretune.modelB", byId("model-b").value);
  const [model, compare_model = null] = lanes();
  if (state.conversation?.messages.length) {
    await api(`/v1/conversations/${state.conversation.id}`, { method: "PATCH", body: { model, compare_model } });
    Object.assign(state.conversation, { model, compare_model });
  }
}

function onCompareToggle() {
  byId("model-b").hidden = !byId("compare").checked;
  newConversation();
}

// ------------------------------------------------------------------ conversations

function paintHandoff() {
  const banner = byId("handoff-banner");
  const handoff = state.conversation?.handoff ?? "none";
  banner.hidden = !WITH_AGENT.includes(handoff);
  banner.textContent =
    handoff === "answered"
      ? "You are talking to a support agent."
      : "A support agent has been asked to join. They will answer here; you can keep writing.";
  byId("handoff").disabled = WITH_AGENT.includes(handoff);
  clearInterval(state.poll);
  if (WITH_AGENT.includes(handoff)) state.poll = setInterval(pollAgent, POLL_MS);
}

function show(conversation) {
  state.conversation = conversation;
  history.replaceState(null, "", conversation ? `#${conversation.id}` : location.pathname);
  if (conversation) renderThread(thread, conversation);
  else thread.replaceChildren(el("p", { class: "hint", text: "New conversation. Ask the support bot anything." }));
  paintHandoff();
  refreshHistory();
}

async function openConversation(id) {
  const conversation = await api(`/v1/conversations/${id}`);
  byId("compare").checked = Boolean(conversation.compare_model);
  byId("model-b").hidden = !conversation.compare_model;
  if (conversation.model) byId("model").value = conversation.model;
  if (conversation.compare_model) byId("model-b").value = conversation.compare_model;
  show(conversation);
  showHistory(false);
}

function newConversation() {
  show(null);
  showHistory(false);
  input.focus();
}

async function remove(id) {
  await api(`/v1/conversations/${id}`, { method: "DELETE" });
  announce("Conversation deleted");
  if (state.conversation?.id === id) newConversation();
  else refreshHistory();
}

function refreshHistory() {
  const handlers = { onOpen: (id) => openConversation(id).catch(fail), onDelete: (id) => remove(id).catch(fail) };
  renderHistory(byId("history-list"), state.conversation?.id, handlers).catch(fail);
}

async function ensureConversation() {
  if (!state.conversation) {
    const [model, compare_model = null] = lanes();
    const created = await api("/v1/conversations", { method: "POST", body: { model, compare_model } });
    state.conversation = { ...created, messages: [] };
    history.replaceState(null, "", `#${created.id}`);
  }
  return state.conversation;
}

async function saveTurn(turn) {
  const saved = await api(`/v1/conversations/${state.conversation.id}/messages`, { method: "POST", body: turn });
  state.conversation.messages.push(saved);
  return saved;
}

/** The conversation as the server keeps it (after the bot's replies, which the server stores itself). */
async function reloadConversation() {
  const fresh = await api(`/v1/conversations/${state.conversation.id}`);
  if (fresh.id === state.conversation?.id) state.conversation = fresh;
}

// ------------------------------------------------------------------ asking the bot

/** Stream `model`'s reply into `view`; resolves to the full text, the sources it was given, the id the server
 * stored it under and whether the bot handed the customer over instead of answering. */
async function streamInto(view, model, messages) {
  const text = view.querySelector(".msg-text");
  let sources = null;
  let handedOver = false;
  let messageId = null;
  const onContext = (context) => {
    messageId = context.message_id;
    handedOver = context.decision === "handoff";
    sources = handedOver ? null : (context.citations ?? []).map(({ id, title, source }) => ({ id, title, source }));
    if (sources?.length) view.append(sourcesLine(sources));
  };
  view.classList.add("pending");
  try {
    for await (const piece of streamChat(model, messages, { onContext, conversationId: state.conversation.id })) {
      view.classList.remove("pending");
      text.textContent += piece;
      thread.scrollTop = thread.scrollHeight;
    }
  } finally {
    view.classList.remove("pending");
  }
  if (!text.textContent.trim()) throw new ApiError(`${model} returned an empty reply.`, 500);
  return { text: text.textContent, sources, handedOver, messageId };
}

function failLane(view, err) {
  view.classList.add("failed");
  view.querySelector(".msg-text").textContent = `No reply: ${err.message}`;
}

/** Ask every lane's model (the server keeps the question and the replies that came); undo everything if none
 * did. */
async function askBots(question) {
  const conversation = await ensureConversation();
  const models = lanes();
  const asked = el("div", { class: "pending-turn" }, bubble("user", question));
  const views = models.map((model) => bubble("assistant", "", { model }));
  asked.append(views.length > 1 ? compareRow(views) : views[0]);
  thread.querySelector(".hint")?.remove();
  thread.append(asked);
  const prompts = models.map((model) => [...historyFor(conversation, model), { role: "user", content: question }]);
  const results = await Promise.allSettled(models.map((model, i) => streamInto(views[i], model, prompts[i])));
  if (results.every((r) => r.status === "rejected")) {
    asked.remove();
    throw results[0].reason;
  }
  await reloadConversation(); // with the turns the server kept, and its hand-off state
  for (const [i, result] of results.entries()) {
    if (result.status === "rejected") failLane(views[i], result.reason);
    else showReply(views[i], models[i], result.value);
  }
  if (results.some((r) => r.status === "fulfilled" && r.value.handedOver)) paintHandoff();
}

function showReply(view, model, { text, messageId }) {
  const stored = state.conversation.messages.find((m) => m.id === messageId);
  if (stored) view.append(feedbackControls(state.conversation.id, stored));
  announce(`Bot (${model}) replied: ${text}`);
}

// ------------------------------------------------------------------ hand-off

async function requestHandoff() {
  const conversation = await ensureConversation();
  const updated = await api(`/v1/conversations/${conversation.id}/handoff`, { method: "POST" });
  conversation.handoff = updated.handoff;
  paintHandoff();
  announce("A support agent has been asked to join this conversation.");
  refreshHistory();
}

/** During a hand-off the bot is silent: the customer's turn is kept for the agent to answer. */
async function writeToAgent(text) {
  const saved = await saveTurn({ role: "user", content: text });
  thread.append(bubble("user", saved.content));
  state.conversation.handoff = "waiting";
  paintHandoff();
}

async function pollAgent() {
  const fresh = await api(`/v1/conversations/${state.conversation.id}`).catch(() => null);
  if (!fresh || fresh.id !== state.conversation?.id) return;
  const changed = fresh.messages.length !== state.conversation.messages.length || fresh.handoff !== state.conversation.handoff;
  if (!changed) return;
  const last = fresh.messages.at(-1);
  state.conversation = fresh;
  renderThread(thread, fresh);
  paintHandoff();
  if (last?.role === "agent") announce(`Support agent: ${last.content}`);
}

// ------------------------------------------------------------------ the composer

function setBusy(busy) {
  byId("send").disabled = busy;
  byId("typing").hidden = !busy;
}

async function send(event) {
  event.preventDefault();
  const text = input.value.trim();
  if (!text || byId("send").disabled) return;
  input.value = "";
  showError("");
  const toAgent = WITH_AGENT.includes(state.conversation?.handoff);
  setBusy(!toAgent);
  try {
    await (toAgent ? writeToAgent(text) : askBots(text));
  } catch (err) {
    input.value = text;
    fail(err);
  } finally {
    setBusy(false);
    refreshHistory();
    input.focus();
  }
}

function fail(err) {
  showError(err.message);
}

/** On a phone the history is a drawer over the thread; on a desktop it is always there. */
function showHistory(shown) {
  document.body.classList.toggle("show-history", shown);
  byId("history-toggle").setAttribute("aria-expanded", String(shown));
  if (shown) byId("new-conversation").focus();
}

// ------------------------------------------------------------------ start

async function start() {
  byId("composer").addEventListener("submit", send);
  enterSends(input, byId("composer"));
  byId("model").addEventListener("change", () => onModelChange().catch(fail));
  byId("model-b").addEventListener("change", () => onModelChange().catch(fail));
  byId("compare").addEventListener("change", onCompareToggle);
  byId("new-conversation").addEventListener("click", newConversation);
  byId("handoff").addEventListener("click", () => requestHandoff().catch(fail));
  byId("history-toggle").addEventListener("click", () => showHistory(true));
  byId("history-close").addEventListener("click", () => showHistory(false));
  document.addEventListener("keydown", (event) => event.key === "Escape" && showHistory(false));
  keyButton(byId("key-button"), () => load().catch(fail));
  await load();
}

/** Connect (asking for a key if needed), start this browser's anonymous session (with an app key, its
 * conversations are the session's alone), fill the pickers and reopen the conversation named in the URL. */
async function load() {
  const me = await connect();
  const parts = [byId("history"), byId("composer"), document.querySelector(".pickers")];
  if (!allowed(me, "inference", "chat with the bot", parts)) return;
  parts.forEach((part) => (part.hidden = false));
  showError("");
  await api("/v1/session", { method: "POST" });
  pickModels((await api("/v1/models")).data);
  const id = location.hash.slice(1);
  if (id) await openConversation(id).catch(() => show(null));
  else refreshHistory();
}

start().catch(fail);
