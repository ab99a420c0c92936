"""caretune.models"""
