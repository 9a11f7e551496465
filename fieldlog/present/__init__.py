"""Presentation: how figures read wherever they are shown (pages, PDF, mail, CLI, charts)."""
