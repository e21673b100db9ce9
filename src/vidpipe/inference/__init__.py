"""Model specs, sessions and the detectors and embedders built on them."""
