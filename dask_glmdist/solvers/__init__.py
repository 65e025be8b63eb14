"""Solvers that run inside block functions (local fits) or on the client."""
