"""caretune: turn a company's own support conversations into a self-hosted support chatbot.

Stages, one folder each: ``data`` (prepare and validate training files), ``models`` (base-model registry),
``prompting`` (the one prompt format shared by training, serving and evaluation), ``training`` (LoRA
fine-tuning on the Hugging Face stack), ``export`` (GGUF and merged checkpoints), ``engines`` (llama.cpp and
transformers inference), ``storage`` (SQLite/SQLAlchemy state), ``server`` (the OpenAI-compatible API),
``webapp`` (the chat page), ``evaluation`` (held-out metrics and reports). ``cli`` is a thin layer over them.
"""

__version__ = "0.1.0"
