"""caretune.evaluation"""
