// Talking to the caretune server: the API key, OpenAI-shaped errors as readable messages, and the
// token-by-token stream of /v1/chat/completions. Every page goes through here, so a 401 or a network
// failure reads the same everywhere.

const KEY_STORAGE = "caretune.apiKey";
// Support answers are short; a cap keeps a rambling model from filling the screen (and the context).
const MAX_REPLY_TOKENS = 256;

/** An error the user can read: the server's own `error.message` when it sent one. */
export class ApiError extends Error {
  constructor(message, status, code = null) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const apiKey = {
  get: () => localStorage.getItem(KEY_STORAGE) || "",
  set: (key) => localStorage.setItem(KEY_STORAGE, key.trim()),
};

function headers(withJson) {
  const result = {};
  const key = apiKey.get();
  if (key) result.Authorization = `Bearer ${key}`;
  if (withJson) result["Content-Type"] = "application/json";
  return result;
}

async function errorOf(response) {
  let message = `The server answered ${response.status} ${response.statusText}.`;
  let code = null;
  try {
    const body = await response.json();
    if (body?.error?.message) ({ message, code } = body.error);
  } catch {
    // Not JSON (a proxy's error page): the status line is all there is.
  }
  return new ApiError(message, response.status, code);
}

async function send(path, { method = "GET", body, signal } = {}) {
  const form = body instanceof FormData;  // an upload: the browser sets its multipart content type
  let response;
  try {
    response = await fetch(path, {
      method,
      signal,
      headers: headers(body !== undefined && !form),
      body: body === undefined || form ? body : JSON.stringify(body),
    });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError("Cannot reach the server. Check the connection and try again.", 0, "network_error");
  }
  if (!response.ok) throw await errorOf(response);
  return response;
}

/** JSON from an API route, or an ApiError. */
export async function api(path, options) {
  return (await send(path, options)).json();
}

/** Plain text from an API route (the feedback export). */
export async function apiText(path) {
  return (await send(path)).text();
}

/** The SSE `data:` payloads of a streamed response, one parsed object at a time, until `[DONE]`. */
async function* serverSentData(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read().catch(() => {
      throw new ApiError("The reply was cut off: the connection to the server was lost.", 0, "network_error");
    });
    if (done) return;
    buffer += value.replaceAll("\r\n", "\n");
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = event.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
      if (data === "[DONE]") return;
      if (data) yield JSON.parse(data);
    }
  }
}

/** The reply of `model` to `messages`, yielded piece by piece as the server streams it; the server keeps
 * the conversation within the model's context, and stores the last message and the reply in conversation
 * `conversationId`. `onContext` gets caretune's `context` extension of the first chunk: the answer's sources,
 * the stored reply's `message_id`, and whether the bot answered or handed over (then the reply is the
 * hand-over message and the server has put the conversation in the agent queue). */
export async function* streamChat(model, messages, { signal, onContext = () => {}, conversationId = null } = {}) {
  const body = { model, messages, stream: true, max_tokens: MAX_REPLY_TOKENS, conversation_id: conversationId };
  const response = await send("/v1/chat/completions", { method: "POST", body, signal });
  for await (const chunk of serverSentData(response)) {
    if (chunk.error) throw new ApiError(chunk.error.message, 500, chunk.error.code);
    const delta = chunk.choices?.[0]?.delta;
    if (delta?.context) onContext(delta.context);
    if (delta?.content) yield delta.content;
  }
}
