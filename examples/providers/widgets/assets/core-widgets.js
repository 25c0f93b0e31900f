/**
 * <core-widgets>: lists the widgets provider's items and adds new ones, through the gateway.
 *
 * A host page loads it with the URL GET /_gateway/elements gives:
 *   <script type="module" src="/assets/widgets/assets/core-widgets.js"></script>
 *   <core-widgets></core-widgets>
 *
 * The URLs are relative to the gateway, so the same file works on any host and port.
 * The optional `src` attribute points it at another items URL; without it, `base-url` (the
 * provider's namespace URL, as the dashboard passes it) + "/items".
 */

const DEFAULT_SRC = "/api/v1/widgets/items";

const STYLE = `
  :host { display: block; font: 14px system-ui, sans-serif; max-width: 28rem; }
  ul { padding-left: 1.2rem; }
  .colour { display: inline-block; width: .7em; height: .7em; border-radius: 50%; margin-right: .4em; }
  .error { color: #b00020; }
  form { display: flex; gap: .4rem; }
`;

class CoreWidgets extends HTMLElement {
  constructor() {
    super();
    const root = this.attachShadow({ mode: "open" });
    root.innerHTML = `
      <style>${STYLE}</style>
      <strong>Widgets</strong>
      <ul part="list"></ul>
      <p class="error" hidden></p>
      <form>
        <input name="name" placeholder="New widget" required>
        <button>Add</button>
      </form>`;
    this.list = root.querySelector("ul");
    this.error = root.querySelector(".error");
    const input = root.querySelector("input");
    root.querySelector("form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.add(input.value).then((added) => {
        if (added) input.value = "";
      });
    });
  }

  get src() {
    // The dashboard (and Core's GUI) give the provider's namespace URL as base-url.
    const base = this.getAttribute("base-url");
    return this.getAttribute("src") ?? (base ? `${base}/items` : DEFAULT_SRC);
  }

  connectedCallback() {
    this.refresh();
  }

  async refresh() {
    try {
      const response = await fetch(this.src, { headers: { accept: "application/json" } });
      if (!response.ok) throw new Error(await describeFailure(response));
      const { items } = await response.json();
      this.list.replaceChildren(...items.map(renderItem));
      this.showError("");
    } catch (error) {
      this.showError(`Cannot load widgets: ${error.message}`);
    }
  }

  /** Adds a widget; resolves whether it was added. */
  async add(name) {
    try {
      const response = await fetch(this.src, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name }),
      });
      if (!response.ok) throw new Error(await describeFailure(response));
      await this.refresh();
      return true;
    } catch (error) {
      this.showError(`Cannot add a widget: ${error.message}`);
      return false;
    }
  }

  showError(message) {
    this.error.textContent = message;
    this.error.hidden = message === "";
  }
}

/** One list item, built with textContent so a widget's name is never read as HTML. */
function renderItem(widget) {
  const li = document.createElement("li");
  const dot = document.createElement("span");
  dot.className = "colour";
  dot.style.background = widget.colour;
  li.append(dot, `${widget.name} (#${widget.id})`);
  return li;
}

/** The problem+json `detail` the gateway or the provider sent, else the status line. */
async function describeFailure(response) {
  try {
    const body = await response.json();
    if (body && typeof body.detail === "string") return body.detail;
  } catch {
    // Not JSON: fall through to the status.
  }
  return `${response.status} ${response.statusText}`;
}

if (!customElements.get("core-widgets")) customElements.define("core-widgets", CoreWidgets);
