"""The Gradio Blocks app: chat on the left, sources on the right, settings below."""
from __future__ import annotations

import gradio as gr

from ..core.chat_guard import SlidingWindowLimiter, check_question
from ..core.citations import with_citation
from .engine import ChatEngine, citation_line, format_sources

TITLE = "Chat with the papers"


def build_app(engine: ChatEngine, limiter: SlidingWindowLimiter | None = None) -> gr.Blocks:
    limiter = limiter or SlidingWindowLimiter(max_requests=30, window_s=60)

    def respond(question: str, history: list, k: int, mode: str, temperature: float, model_choice: str):
        history = list(history or [])
        refusal = check_question(question or "")
        wait = 0.0 if refusal else limiter.try_acquire()
        if refusal or wait:
            message = refusal or f"Too many requests: try again in {wait:.0f} s."
            yield history + [{"role": "user", "content": (question or "")[:200]}, {"role": "assistant", "content": message}], \
                gr.update(), engine.status()
            return
        engine.refresh()  # an adapter published since the last question is loaded now
        hits = engine.retrieve(question, int(k), mode)
        sources = format_sources(hits, figure_png=engine.figure_png)
        history = history + [{"role": "user", "content": question}, {"role": "assistant", "content": ""}]
        use_adapter = model_choice == "fine-tuned" and engine.has_adapter
        status_line = f"{engine.status()} {engine.answered_by(use_adapter)}"
        answer = ""
        for answer in engine.stream_answer(question, hits, float(temperature), use_adapter):
            history[-1] = {"role": "assistant", "content": answer}
            yield history, sources, status_line
        if hits:  # an answer citing nothing points at the passage that supports it, if one does
            answer, attributed = with_citation(answer.strip(), [h.text for h in hits])
            status_line += " The [n] after the answer was added by matching it to the passages." if attributed else ""
            answer = f"{answer}\n\n{citation_line(hits)}"
        history[-1] = {"role": "assistant", "content": answer}
        yield history, sources, status_line

    with gr.Blocks(title=TITLE) as app:
        gr.Markdown(f"# {TITLE}\nAnswers come from the latest materialized index; every answer lists its sources.")
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
            k = gr.Slider(1, 10, value=3, step=1, label="passages (k)")
            mode = gr.Radio(["hybrid", "dense", "bm25"], value="hybrid", label="retrieval")
            temperature = gr.Slider(0.0, 1.5, value=0.0, step=0.1, label="temperature")
            # Offered even before an adapter exists: one published later is used from the next question on.
            model_choice = gr.Radio(["fine-tuned", "base"], value="fine-tuned",
                                    label="model: the fine-tuned adapter (once one is published) or its base")
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


def launch(host: str = "127.0.0.1", port: int = 7860, max_new_tokens: int = 192, base_model: str | None = None,
           device: str = "auto") -> None:
    serve(build_app(ChatEngine(base_model=base_model, device=device, max_new_tokens=max_new_tokens)), host, port)
