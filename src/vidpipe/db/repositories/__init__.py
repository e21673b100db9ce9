"""Queries, one module per table family; services and jobs call these instead of writing SQL."""
