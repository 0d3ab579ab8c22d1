"""CSS and theme of the chat page (system fonts only: the page loads nothing from the internet)."""

from __future__ import annotations

import gradio as gr

SYSTEM_FONTS = [
    "ui-sans-serif",
    "system-ui",
    "-apple-system",
    "Segoe UI",
    "Roboto",
    "Helvetica",
    "Arial",
    "sans-serif",
]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"]


def theme() -> gr.themes.Base:
    """A quiet theme using local fonts."""
    return gr.themes.Soft(primary_hue="indigo", neutral_hue="slate", font=SYSTEM_FONTS, font_mono=MONO_FONTS)


CSS = """
.gradio-container { max-width: 1280px !important; margin: 0 auto !important; }
#page-header h1 { margin-bottom: 0.1em; }
#page-header p { margin-top: 0; color: var(--body-text-color-subdued); }
sup.cite { font-weight: 600; color: var(--color-accent); padding: 0 1px; }
sup.cite[class*="cite-n-"] { cursor: pointer; text-decoration: underline dotted; }
sup.cite.unsupported { color: #b45309; text-decoration: underline wavy #b45309; }
span.abstained { display: inline-block; font-weight: 600; color: #92400e; background: #fef3c7;
  border-radius: 6px; padding: 1px 8px; }
span.abstained.related { color: #1e3a8a; background: #dbeafe; }
span.confidence { display: block; font-size: 0.8em; color: #6b7280; }
.badge.related { color: #1e3a8a; background: #dbeafe; border-radius: 4px; padding: 0 4px; font-size: 0.8em; }
span.warn { color: #b45309; font-size: 0.92em; }
span.notice { color: var(--body-text-color-subdued); font-style: italic; font-size: 0.92em; }
span.error { color: #b91c1c; }
span.typing { color: var(--body-text-color-subdued); animation: blink 1s steps(2) infinite; }
@keyframes blink { 50% { opacity: 0; } }
#sources { max-height: 640px; overflow-y: auto; }
.sources-for { color: var(--body-text-color-subdued); font-size: 0.9em; margin: 0 2px 8px; }
.sources-empty { color: var(--body-text-color-subdued); padding: 8px 2px; font-size: 0.95em; }
.source { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px 10px;
  margin-bottom: 10px; background: var(--background-fill-primary); }
.source-head { display: grid; grid-template-columns: auto 1fr auto; align-items: baseline; column-gap: 8px; }
.source-n { font-weight: 700; color: var(--color-accent); }
.source-title { font-weight: 600; }
.source-strength { font-size: 0.78em; font-weight: 600; white-space: nowrap; border-radius: 10px; padding: 1px 8px;
  justify-self: end; }
.source-strength.strong { background: #dcfce7; color: #166534; }
.source-strength.good { background: #e0e7ff; color: #3730a3; }
.source-strength.weak { background: #f1f5f9; color: #475569; }
.source-quotes .source-strength { padding: 0 6px; }
.source.flash { animation: source-flash 1.6s ease-out; }
@keyframes source-flash { 0%, 40% { box-shadow: 0 0 0 3px var(--color-accent); background: #fef9c3; }
  100% { box-shadow: none; } }
.source-head .badge { grid-column: 2 / 4; justify-self: start; margin-top: 2px; }
.badge { font-size: 0.75em; border-radius: 10px; padding: 1px 7px; font-weight: 600; }
.badge.unsupported { background: #fef3c7; color: #92400e; border: 1px solid #f59e0b; }
.source-passage { margin-top: 6px; font-size: 0.92em; line-height: 1.45; }
.source-passage summary { cursor: pointer; list-style: none; }
.source-passage summary::-webkit-details-marker { display: none; }
.source-passage .expand-hint { display: block; font-size: 0.85em; color: var(--color-accent); margin-top: 4px; }
.source-passage[open] .excerpt { display: none; }
.source-passage[open] .expand-hint::before { content: "hide full passage"; }
.source-passage[open] .expand-hint { font-size: 0; }
.source-passage[open] .expand-hint::before { font-size: 0.8rem; }
.passage-full { white-space: pre-wrap; }
.source mark, .passage-full mark { background: #fde68a; color: inherit; border-radius: 3px; padding: 0 1px; }
.source mark.unsupported { background: #fed7aa; }
.source-quotes { list-style: none; margin: 6px 0 0; padding: 0; font-size: 0.82em;
  color: var(--body-text-color-subdued); }
.source-quotes li { margin-top: 3px; display: flex; flex-wrap: wrap; align-items: baseline; gap: 2px 8px; }
.source-quotes .quote-n { font-weight: 700; color: var(--color-accent); }
.source-quotes a.open-document { color: var(--color-accent); }
#remove-confirm { border: 1px solid #f59e0b; background: #fffbeb; border-radius: 8px; padding: 8px; }
#remove-confirm .confirm { color: #78350f; }
#narrow-tabs-holder { display: none; }
#narrow-tabs { display: flex; gap: 6px; }
#narrow-tabs button { flex: 1; padding: 8px; border-radius: 8px; border: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); font-weight: 600; color: var(--body-text-color); }
#narrow-tabs button[aria-selected="true"] { background: var(--color-accent); color: white; }
@media (max-width: 768px) {
  #narrow-tabs-holder { display: block; position: sticky; top: 0; z-index: 20;
    background: var(--background-fill-primary); padding: 6px 0; }
  #chat-and-sources.show-sources #chat-column { display: none !important; }
  #chat-and-sources:not(.show-sources) #sources-column { display: none !important; }
  #sources { max-height: none; }
}
.status { padding: 6px 10px; border-radius: 6px; margin: 4px 0; font-size: 0.95em; }
.status.info { background: var(--background-fill-secondary); }
.status.ok { background: #dcfce7; color: #166534; }
.status.error { background: #fee2e2; color: #991b1b; }
table.documents { width: 100%; border-collapse: collapse; font-size: 0.9em; }
table.documents th, table.documents td { text-align: left; padding: 4px 8px;
  border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
table.documents td.doc-source { color: var(--body-text-color-subdued); word-break: break-all; }
.example-row button { font-size: 0.88em !important; }
"""
