"""Benchmarks of dask_glmdist against its peers, as a small package (see README.md)."""
