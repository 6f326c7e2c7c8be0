"""Objections (异议): a disputed record is held back from the hub until the objection is resolved or its
working-day deadline passes (docs/objections.md)."""
