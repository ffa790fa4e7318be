"""The BentoML ranking service, payload adapters, online state store and dashboard."""
