"""Publicity periods (公示期): when each published record stops being published, and the daily withdrawal of
what has expired (docs/publicity.md)."""
