"""Copilots and the conversation engine."""
