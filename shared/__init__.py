"""Sampark's core: domain, use cases and adapters. Importable without Chalice."""
