"""The 逢办必查 lookup: an entity's credit standing over HTTP for departments handling an application, each
caller with its own credential and role, every query logged (docs/lookup.md)."""
