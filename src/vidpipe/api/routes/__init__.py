"""The API's routes, one module per resource; each parses, calls a service and shapes the answer."""
