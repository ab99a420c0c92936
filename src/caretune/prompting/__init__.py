"""caretune.prompting"""
