"""caretune.storage"""
