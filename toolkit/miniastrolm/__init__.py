"""MiniAstroLM: distil plain-language explanations of astro-ph abstracts from a teacher LLM into a small student."""

__version__ = "0.1.0"
