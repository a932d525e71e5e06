"""Contract cases shared by every implementation of a port (fakes and real adapters alike)."""
