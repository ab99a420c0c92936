"""caretune.export"""
