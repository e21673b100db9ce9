"""The pages: server-rendered Jinja2 templates with small hand-written JavaScript (no build step).
Pages read through the services and write through the JSON API, so every change takes the same path."""
