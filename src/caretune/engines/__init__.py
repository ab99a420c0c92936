"""caretune.engines"""
