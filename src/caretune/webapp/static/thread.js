// Drawing a conversation: customer, bot and human-agent turns, a compare thread's replies side by side,
// and feedback controls under each bot reply. Shared by the chat page and the agent view, which differ
// only in who "you" are.

import { el } from "./dom.js";
import { feedbackControls } from "./feedback.js";

/** Speaker names as the customer sees them; the agent view passes its own. */
const CUSTOMER_VIEW = { user: "You", assistant: "Bot", agent: "Support agent" };
export const AGENT_VIEW = { user: "Customer", assistant: "Bot", agent: "Agent" };

/** One turn's bubble; its text goes in `.msg-text` (streamed into by the chat page). */
export function bubble(role, text, { model = null, speakers = CUSTOMER_VIEW, sources = null } = {}) {
  const view = el(
    "article",
    { class: `msg msg-${role}` },
    el("p", { class: "msg-meta", text: model ? `${speakers[role]} · ${model}` : speakers[role] }),
    el("div", { class: "msg-text", text }),
  );
  if (sources?.length) view.append(sourcesLine(sources));
  return view;
}

/** Where a reply's facts came from: the titles of the knowledge passages it was given (as text). */
export function sourcesLine(sources) {
  const titles = [...new Set(sources.map((s) => s.title))];
  return el("p", { class: "msg-sources", text: `From: ${titles.join(" · ")}` });
}

/** Replies to the same question by two models, in columns (stacked on a phone). */
export function compareRow(bubbles) {
  return el("div", { class: "compare-row" }, ...bubbles);
}

/** A stored turn, with feedback controls when it is a bot reply and `withFeedback` is set. */
export function messageView(conversation, message, { speakers = CUSTOMER_VIEW, withFeedback = true } = {}) {
  const view = bubble(message.role, message.content, { model: message.model, speakers, sources: message.sources });
  if (message.role === "assistant" && withFeedback) view.append(feedbackControls(conversation.id, message));
  return view;
}

/** Runs of consecutive bot replies are one group (compare mode); every other turn is its own. */
function groups(messages) {
  const result = [];
  for (const message of messages) {
    const last = result.at(-1);
    if (message.role === "assistant" && last?.[0].role === "assistant") last.push(message);
    else result.push([message]);
  }
  return result;
}

/** The order of a compare thread's columns: its first model on the left. */
function columnOrder(conversation) {
  const order = [conversation.model, conversation.compare_model];
  const rank = (message) => (order.includes(message.model) ? order.indexOf(message.model) : order.length);
  return (a, b) => rank(a) - rank(b);
}

/** Replace `container`'s content with the whole conversation. */
export function renderThread(container, conversation, options) {
  const views = groups(conversation.messages).map((group) => {
    if (group.length === 1) return messageView(conversation, group[0], options);
    const sorted = [...group].sort(columnOrder(conversation));
    return compareRow(sorted.map((m) => messageView(conversation, m, options)));
  });
  container.replaceChildren(...views);
  container.scrollTop = container.scrollHeight;
}

/** The turns one model should see: customer and agent turns, and (in compare mode) only its own replies. */
export function historyFor(conversation, model) {
  const compare = Boolean(conversation.compare_model);
  return conversation.messages
    .filter((m) => m.role !== "assistant" || !compare || m.model === model)
    .map((m) => ({ role: m.role === "user" ? "user" : "assistant", content: m.content }));
}
