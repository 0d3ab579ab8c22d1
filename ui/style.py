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
sup.cite { font-weight: 600; color: var(--color-accent); padding: 0 1px; cursor: help; }
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
.source-score { font-size: 0.85em; color: var(--body-text-color-subdued); white-space: nowrap; text-align: right; }
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
.source-meta { font-size: 0.8em; color: var(--body-text-color-subdued); margin-top: 4px; }
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
