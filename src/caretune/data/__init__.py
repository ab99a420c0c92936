"""caretune.data"""
