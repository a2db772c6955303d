"""The Gradio Blocks app: chat on the left, sources on the right, settings below."""
from __future__ import annotations

from typing import get_args

import gradio as gr

from ..core.chat_guard import SlidingWindowLimiter, check_question
from ..core.defaults import ANSWER_MAX_NEW_TOKENS, PASSAGES_K, Mode
from .engine import AnswerFailed, AnswerStart, ChatEngine, citation_line, format_sources, quoted_answer

TITLE = "Chat with the papers"


def client_key(request: gr.Request | None) -> str:
    """Whom a rate limit counts: the browser session (each tab, each API client), else the address."""
    if request is None:
        return "local"
    return getattr(request, "session_hash", None) or (request.client.host if request.client else "unknown")


def message_text(message: dict) -> str:
    """A chat message's text: Gradio gives a string, or a list of parts after a round trip."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


def build_app(engine: ChatEngine, limiter: SlidingWindowLimiter | None = None) -> gr.Blocks:
    limiter = limiter or SlidingWindowLimiter(max_requests=30, window_s=60)

    def respond(question: str, history: list, k: int, mode: str, temperature: float, model_choice: str,
                request: gr.Request = None):
        history = list(history or [])
        refusal = check_question(question or "")
        wait = 0.0 if refusal else limiter.try_acquire(client_key(request))
        if refusal or wait:
            message = refusal or f"Too many requests: try again in {wait:.0f} s."
            yield history + [{"role": "user", "content": (question or "")[:200]}, {"role": "assistant", "content": message}], \
                gr.update(), engine.status()
            return
        earlier = [message_text(m) for m in history if m.get("role") == "user"]
        history = history + [{"role": "user", "content": question}, {"role": "assistant", "content": ""}]
        use_adapter = model_choice == "fine-tuned"
        answering = engine.answer(question, int(k), mode, float(temperature), use_adapter, earlier)
        hits, quote, sources, status_line, answer = [], None, gr.update(), engine.status(), ""
        try:
            for event in answering:
                if isinstance(event, AnswerStart):
                    hits, quote, status_line = event.hits, event.quote, f"{event.status} {event.answered_by}"
                    if event.read_as != question:
                        status_line += f" Read as a follow-up: “{event.read_as}”."
                    sources = format_sources(hits, figure_png=engine.figure_png)
                    continue
                answer = event
                history[-1] = {"role": "assistant", "content": answer}
                yield history, sources, status_line
        except AnswerFailed as exc:
            history[-1] = {"role": "assistant", "content": f"{answer}\n\n_The answer failed ({exc}). Please ask again._"}
            yield history, sources, f"{status_line} Generation failed: {exc}"
            return
        finally:
            answering.close()  # a client that went away stops the generation and frees the model
        if hits:  # the answer cites the sentence it was written from, quoted, highlighted on its page
            evidence = engine.evidence(quote, hits)
            sources = format_sources(hits, figure_png=engine.figure_png, evidence=evidence)
            answer = f"{quoted_answer(answer, evidence)}\n\n{citation_line(hits)}"
        history[-1] = {"role": "assistant", "content": answer}
        yield history, sources, status_line

    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}\nAnswers come from the latest materialized index: each quotes the sentence it rests "
                    "on, shown highlighted on its page, and lists its sources.")
        status = gr.Markdown(engine.status(), elem_id="status")
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(label="Conversation", height=460, elem_id="chatbot")
                question = gr.Textbox(label="Question", placeholder="Ask about the papers…", max_length=1000,
                                      elem_id="question", submit_btn=True)
            with gr.Column(scale=2):
                sources = gr.Markdown("_Sources appear here._", elem_id="sources")
        with gr.Accordion("Settings", open=False):
            # 3: what the student was trained on (RAFT prompts) and is evaluated with
            k = gr.Slider(1, 10, value=PASSAGES_K, step=1, label="passages (k)")
            mode = gr.Radio(list(get_args(Mode)), value="hybrid", label="retrieval")
            temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.1, label="temperature")
            # Offered even before an adapter is served: one promoted later is used from the next question on.
            model_choice = gr.Radio(["fine-tuned", "base"], value="fine-tuned",
                                    label="model: the fine-tuned adapter an evaluation promoted (else its base) "
                                          "or the base")
        question.submit(respond, [question, chatbot, k, mode, temperature, model_choice], [chatbot, sources, status],
                        api_name="ask").then(lambda: "", None, question)
    return app


QUEUE_SIZE = 16  # waiting requests beyond this are refused at once with Gradio's "queue is full"


def serve(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, queue_size: int = QUEUE_SIZE,
          block: bool = True) -> gr.Blocks:
    """One answer at a time (the model is shared); a bounded queue, so a burst of users gets
    a prompt "busy, try again" instead of waits that grow without limit."""
    app.queue(default_concurrency_limit=1, max_size=queue_size)
    app.launch(server_name=host, server_port=port, show_error=True, prevent_thread_lock=not block, quiet=not block)
    return app


def launch(host: str = "127.0.0.1", port: int = 7860, max_new_tokens: int = ANSWER_MAX_NEW_TOKENS, base_model: str | None = None,
           device: str = "auto") -> None:
    serve(build_app(ChatEngine(base_model=base_model, device=device, max_new_tokens=max_new_tokens)), host, port)
