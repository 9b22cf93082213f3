"""Registry of exosome and polynucleotide product lots for aesthetic clinics."""

__version__ = "0.1.0"
