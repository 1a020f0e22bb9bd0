"""Developer tooling: the local stack, the local event-source dispatcher, packaging and benchmarks."""
