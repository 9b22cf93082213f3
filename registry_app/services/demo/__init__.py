"""The demo registry: generated products, lots and administrations written in bulk."""
