"""caretune.webapp"""
