"""caretune.server"""
