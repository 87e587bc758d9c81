"""cpm: customer performance management for small shops."""

__version__ = "0.1.0"
