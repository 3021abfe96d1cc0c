"""Data protection: retention and purge, subject access export, erasure, the privacy notice."""
