// Small DOM helpers every page uses: building elements without innerHTML (replies are untrusted text),
// announcing to screen readers, and showing an error the user can read.

/** An element with attributes (`text` sets textContent, `on*` adds listeners) and children. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

export const byId = (id) => document.getElementById(id);

/** Say `text` through the page's aria-live region (new messages, saved feedback). */
export function announce(text) {
  const region = byId("announcer");
  region.textContent = "";
  requestAnimationFrame(() => (region.textContent = text));
}

/** Show (or, with an empty text, hide) the page's error banner. */
export function showError(text) {
  const banner = byId("error");
  banner.textContent = text;
  banner.hidden = !text;
}

/** A Unix time as the reader's local date and time. */
export function when(seconds) {
  return new Date(seconds * 1000).toLocaleString([], { dateStyle: "medium", timeStyle: "short" });
}

/** Enter submits `form` from `textarea`; Shift+Enter keeps making a new line (as in every chat app). */
export function enterSends(textarea, form) {
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}
