"""caretune: turn a company's own support conversations into a self-hosted support chatbot.

Stages, one folder each: ``data`` (prepare and validate training files), ``models`` (base-model registry),
``prompting`` (the one prompt format shared by training, serving and evaluation), ``training`` (LoRA
fine-tuning on the Hugging Face stack), ``export`` (GGUF and merged checkpoints), ``engines`` (llama.cpp and
transformers inference), ``answering`` (a conversation in, the served prompt out), ``storage``
(SQLite/SQLAlchemy state), ``server`` (the OpenAI-compatible API and the chat app's), ``webapp`` (the chat
page), ``evaluation`` (held-out metrics and reports). ``runs`` is what a run is, shared by all of them;
``cli`` is a thin layer over them. docs/ARCHITECTURE.md has the table and the import rules.
"""

__version__ = "0.1.0"
