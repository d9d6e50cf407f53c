"""The package version, alone in a module: what writes manifests imports it without importing the package."""

__version__ = "0.1.0"
