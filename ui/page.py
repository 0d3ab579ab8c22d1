"""Layout of the chat page and `mount_ui`, which serves it at `/` of the FastAPI app beside the API."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence

import gradio as gr
from fastapi import FastAPI, Request
from gradio.routes import App
from starlette.routing import Mount

from rag.pipeline import Pipeline
from rag.settings import AnswerMode
from ui import sources as source_cards
from ui.guard import GradioGuard
from ui.handlers import SEED_EXAMPLES, Example, PageHandlers, new_session
from ui.script import SCRIPT, TABS_HTML
from ui.style import CSS, theme

TITLE = "rag — ask your documents"
INTRO = (
    "# Ask your documents\n"
    "Answers quote the indexed documents; click a **[n]** to see its source, and *open in document* to read "
    "it in place. Click an earlier answer to see its sources again. Upload your own files under *Documents*."
)
ASK_CONCURRENCY = 4  # questions answered at once; the Pipeline is thread-safe


def build_page(pipeline: Pipeline, examples: Sequence[Example] = SEED_EXAMPLES) -> gr.Blocks:
    """The Gradio Blocks of the chat page, wired to `pipeline`."""
    handlers = PageHandlers(pipeline, examples)
    settings = pipeline.settings
    private = {"api_visibility": "private"}
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as page:
        session = gr.State(new_session())
        gr.Markdown(INTRO, elem_id="page-header")
        gr.HTML(TABS_HTML, elem_id="narrow-tabs-holder", padding=False)  # shown on narrow screens only
        with gr.Row(equal_height=False, elem_id="chat-and-sources"):
            with gr.Column(scale=3, min_width=420, elem_id="chat-column"):
                chatbot = gr.Chatbot(
                    elem_id="chat",
                    label="Conversation",
                    height=520,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],
                    autoscroll=True,
                    placeholder="Ask a question about the indexed documents, or click an example below.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        elem_id="question",
                        show_label=False,
                        scale=6,
                        lines=1,
                        max_lines=6,
                        placeholder="Type a question and press Enter",
                        autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", elem_id="ask", scale=1, min_width=80)
                with gr.Row(elem_classes="example-row"):
                    example_buttons = [
                        gr.Button(e.question, size="sm", variant="secondary", elem_classes="example")
                        for e in handlers.examples
                    ]
                status = gr.HTML(elem_id="status")
                new_chat = gr.Button("New conversation", size="sm", elem_id="new-chat")
            with gr.Column(scale=2, min_width=320, elem_id="sources-column"):
                gr.Markdown("### Sources")
                sources = gr.HTML(source_cards.sources_html(None), elem_id="sources")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    top_k = gr.Slider(
                        1,
                        20,
                        value=min(settings.top_k, 20),
                        step=1,
                        elem_id="top-k",
                        label="Passages to retrieve (top-k)",
                        info="More passages: more context for the answer, a little slower.",
                    )
                    mode = gr.Radio(
                        [m.value for m in AnswerMode],
                        value=AnswerMode(settings.answer_mode).value,
                        label="Answer mode",
                        elem_id="mode",
                        info="extractive quotes sentences verbatim; generative writes an answer "
                        "with a local model and checks each sentence against its source.",
                    )
        with gr.Accordion("Documents: upload, list, remove", open=False, elem_id="documents-panel"):
            with gr.Row():
                upload = gr.File(
                    label="Upload .txt, .md, .html or .pdf (indexed at once)",
                    file_count="multiple",
                    elem_id="upload",
                    scale=3,
                )
                with gr.Column(scale=2):
                    remove_choice = gr.Dropdown(
                        label="Remove a document", choices=[], value=None, elem_id="remove-choice"
                    )
                    with gr.Row():
                        remove = gr.Button("Remove…", variant="stop", size="sm", elem_id="remove")
                        reload = gr.Button("Refresh list", size="sm", elem_id="refresh-documents")
                    with gr.Column(visible=False, elem_id="remove-confirm") as confirm_box:
                        confirm_question = gr.HTML(elem_id="remove-question")
                        with gr.Row():
                            confirm = gr.Button(
                                "Yes, remove it", variant="stop", size="sm", elem_id="remove-yes"
                            )
                            cancel = gr.Button("Cancel", size="sm", elem_id="remove-cancel")
            upload_status = gr.HTML(elem_id="upload-status")
            documents = gr.HTML(elem_id="documents")

        ask_outputs = [question, chatbot, session, sources, status]
        ask_options = {
            "outputs": ask_outputs,
            "concurrency_limit": ASK_CONCURRENCY,
            "show_progress": "minimal",
            **private,
        }
        question.submit(handlers.ask, [question, session, top_k, mode], **ask_options)
        ask.click(handlers.ask, [question, session, top_k, mode], **ask_options)
        for button in example_buttons:
            button.click(handlers.ask, [button, session, top_k, mode], **ask_options)
        chatbot.select(handlers.select, [session], [sources], **private)
        for event in (new_chat.click, chatbot.clear):
            event(handlers.clear, None, [chatbot, session, sources, status], **private)

        doc_outputs = [documents, remove_choice, *example_buttons]
        upload.upload(
            handlers.upload, [upload], [upload, upload_status, *doc_outputs], concurrency_limit=1, **private
        )
        pending_removal = gr.State(None)
        confirm_outputs = [pending_removal, confirm_box, confirm_question, upload_status]
        remove.click(handlers.ask_remove, [remove_choice], confirm_outputs, **private)
        cancel.click(handlers.cancel_remove, [pending_removal], confirm_outputs, **private)
        confirm.click(
            handlers.remove,
            [pending_removal],
            [*confirm_outputs, *doc_outputs],
            concurrency_limit=1,
            **private,
        )
        for event in (page.load, reload.click):
            event(handlers.refresh, None, doc_outputs, **private)
    return page


def mount_ui(app: FastAPI, pipeline: Pipeline, *, examples: Sequence[Example] = SEED_EXAMPLES) -> None:
    """Serve the chat page at `/` of `app`. Call it after every other route is added: `/` catches the rest.

    When RAG_API_KEY is set, the page asks for it too (any user name, the key as password), so the page
    cannot be used to read or change documents that the API protects; failed logins are rate-limited per
    client (RAG_LOGIN_MAX_FAILURES per RAG_LOGIN_WINDOW_SECONDS, then 429). Unknown Gradio endpoints are 404.
    """
    settings = pipeline.settings
    page = build_page(pipeline, examples)
    page.queue(default_concurrency_limit=ASK_CONCURRENCY)
    auth = None
    if settings.api_key is not None:
        key = settings.api_key.get_secret_value()

        def auth(_user: str, password: str) -> bool:
            return secrets.compare_digest(password.encode(), key.encode())

    gr.mount_gradio_app(
        app,
        page,
        path="/",
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        show_error=False,
        theme=theme(),
        css=CSS,
        head=f"<script>{SCRIPT}</script>",
        max_file_size=settings.max_upload_bytes,
        auth=auth,
        auth_message="This server requires its API key: enter RAG_API_KEY as the password (any user name).",
    )
    if auth is not None:  # the document page (rag.api.routes_view) lets a logged-in page session in
        app.state.page_user = page_user(_mounted_page(app))
    app.add_middleware(
        GradioGuard,
        api_names={fn.api_name for fn in page.fns.values() if fn.api_name},
        fn_indexes=set(page.fns),
        max_failures=settings.login_max_failures,
        window=settings.login_window_seconds,
        limit_logins=auth is not None,
    )


def _mounted_page(app: FastAPI) -> App:
    """The Gradio app that `mount_gradio_app` mounted at `/` of `app`."""
    return next(r.app for r in reversed(app.routes) if isinstance(r, Mount) and isinstance(r.app, App))


def page_user(page: App) -> Callable[[Request], str | None]:
    """request -> the user name of the page session its login cookie names, or None (Gradio's own check)."""

    def user(request: Request) -> str | None:
        token = request.cookies.get(f"access-token-{page.cookie_id}") or request.cookies.get(
            f"access-token-unsecure-{page.cookie_id}"
        )
        return page.tokens.get(token) if token else None

    return user
