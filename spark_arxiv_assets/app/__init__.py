"""Gradio chat over the papers: retrieval + base model + (optional) fine-tuned adapter."""
