"""Base models: the registry of short names and loading a base as a tokenizer and a model."""
