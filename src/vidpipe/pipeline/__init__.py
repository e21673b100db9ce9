"""The engine: manifesting runs (and later clip analysis) composed from the core, writing through db/."""
