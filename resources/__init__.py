"""Packaged data: icons, fonts, the palette and stylesheet, import templates (read with importlib.resources)."""
