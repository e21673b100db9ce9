"""Asset descriptions: recreation prompts, production-bible text, quality and names."""
