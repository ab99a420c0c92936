"""HTTP routes, one module per API area, each exposing a FastAPI ``router``."""
