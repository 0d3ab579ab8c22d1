"""The page's own script (added to its <head>): `[n]` markers show their source card, and the narrow-screen tabs."""

from __future__ import annotations

TABS_HTML = (
    '<div id="narrow-tabs" role="tablist" aria-label="Chat or sources">'
    '<button type="button" role="tab" data-tab="chat" aria-selected="true">Chat</button>'
    '<button type="button" role="tab" data-tab="sources" aria-selected="false">Sources'
    ' <span class="tab-count"></span></button></div>'
)

# A click on a marker `[n]` of an answer brings the card quoting it into view and flashes it. The marker names
# its answer (class cite-answer-K, K its message's place in the chat): when the panel shows another answer's sources, the
# click also makes the page show that answer's (the chat's select event), and the card is flashed once the
# panel has them. On narrow screens the panel is a tab beside the chat: a marker click switches to it.
SCRIPT = r"""
(() => {
  if (window.ragSourcesScript) { return; }
  window.ragSourcesScript = true;
  const FLASH_MS = 1600, WAIT_MS = 8000;
  let pending = null;

  const panel = () => document.querySelector("#sources .sources-panel");

  function showTab(name) {
    // a class on the row: Gradio scopes the page's CSS inside @media to elements under its container
    const row = document.getElementById("chat-and-sources");
    if (row) { row.classList.toggle("show-sources", name === "sources"); }
    document.querySelectorAll("#narrow-tabs [role=tab]").forEach((tab) => {
      tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
    });
  }

  function flash() {
    if (!pending || Date.now() > pending.until) { pending = null; return; }
    const shown = panel();
    if (!shown || shown.dataset.answer !== pending.answer) { return; }
    const card = shown.querySelector('.source[data-n~="' + pending.n + '"]');
    pending = null;
    if (!card) { return; }
    showTab("sources");
    card.scrollIntoView({ block: "nearest" });
    card.classList.remove("flash");
    void card.offsetWidth;
    card.classList.add("flash");
    setTimeout(() => card.classList.remove("flash"), FLASH_MS);
  }

  function updateCount() {
    const shown = panel(), count = document.querySelector("#narrow-tabs .tab-count");
    const text = shown && shown.dataset.count !== "0" ? "(" + shown.dataset.count + ")" : "";
    if (count && count.textContent !== text) { count.textContent = text; }  // no change, no new mutation
  }

  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    const tab = target && target.closest("#narrow-tabs [role=tab]");
    if (tab) { showTab(tab.dataset.tab); return; }
    const marker = target && target.closest("sup.cite");
    const n = marker && marker.className.match(/\bcite-n-(\d+)\b/);
    const answer = marker && marker.className.match(/\bcite-answer-(\d+)\b/);
    if (!n || !answer) { return; }
    pending = { n: n[1], answer: answer[1], until: Date.now() + WAIT_MS };
    flash();
  }, true);

  let scheduled = false;
  new MutationObserver(() => {
    if (scheduled) { return; }
    scheduled = true;
    requestAnimationFrame(() => { scheduled = false; updateCount(); flash(); });
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
"""
