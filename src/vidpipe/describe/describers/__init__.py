"""Describer implementations: offline (local measurements), Gemini, and OpenAI-compatible servers."""
