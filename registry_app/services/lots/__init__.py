"""Lots from receipt to destruction: receiving, the lifecycle, results, documents, donors, excursions."""
