"""Face identity embedder implementations."""
