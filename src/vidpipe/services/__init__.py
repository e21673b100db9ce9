"""The engine API: one function per user action, typed in and out. Shells (CLI, API, workers,
benches) parse, call one of these with an `AppContext`, and render what comes back."""
