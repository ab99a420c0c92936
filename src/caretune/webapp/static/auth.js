// Asking for an API key only when the server wants one: a probe of /v1/me tells (a server started with
// --no-auth answers it without a key), and says what the key's role may do, so each page shows only that.
// The key lives in localStorage, so it is asked once per browser.

import { api, apiKey, ApiError } from "./api.js";
import { showError } from "./dom.js";

/** The key dialog, built once per page so no page has to repeat its markup. */
function keyDialog() {
  let dialog = document.getElementById("key-dialog");
  if (dialog) return dialog;
  dialog = document.createElement("dialog");
  dialog.id = "key-dialog";
  dialog.setAttribute("aria-labelledby", "key-title");
  dialog.innerHTML = `
    <form method="dialog">
      <h2 id="key-title">API key</h2>
      <p class="key-message"></p>
      <label for="key-input">Key (from <code>caretune keys create</code>)</label>
      <input id="key-input" type="password" autocomplete="off" required>
      <button type="submit">Save key</button>
    </form>`;
  document.body.append(dialog);
  return dialog;
}

function askForKey(message) {
  const dialog = keyDialog();
  const form = dialog.querySelector("form");
  const input = dialog.querySelector("input");
  dialog.querySelector(".key-message").textContent = message;
  input.value = apiKey.get();
  return new Promise((resolve) => {
    form.addEventListener(
      "submit",
      (event) => {
        event.preventDefault();
        apiKey.set(input.value);
        dialog.close();
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
}

/** The caller (`GET /v1/me`: the key's role and its permissions), after asking for a key for as long as
 * the server refuses the one we have. Elements marked `data-needs="PERMISSION"` show only if the key has it. */
export async function connect() {
  for (;;) {
    try {
      const me = await api("/v1/me");
      for (const node of document.querySelectorAll("[data-needs]")) node.hidden = !may(me, node.dataset.needs);
      return me;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
      await askForKey(apiKey.get() ? `That key was refused: ${err.message}` : "This server needs an API key.");
    }
  }
}

/** Whether the caller's role holds `permission` (the server checks every request anyway). */
export function may(me, permission) {
  return me.permissions.includes(permission);
}

/** True if the key may do what a page is for; otherwise the page says why, hides `parts`, and it is false. */
export function allowed(me, permission, what, parts) {
  if (may(me, permission)) return true;
  for (const part of parts) part.hidden = true;
  showError(`This API key (role ${me.role}) cannot ${what}: that needs the permission '${permission}'. ` +
    "Use the \"API key\" button to change keys.");
  return false;
}

/** Wire the header's "API key" button so a key can be changed at any time. */
export function keyButton(button, onChanged) {
  button.addEventListener("click", async () => {
    await askForKey("Enter the API key to use with this server.");
    onChanged();
  });
}
