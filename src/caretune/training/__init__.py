"""caretune.training"""
