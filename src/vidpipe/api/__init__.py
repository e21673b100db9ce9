"""The HTTP shell: a FastAPI app over the engine API (`vidpipe.services`), with the job runner."""
