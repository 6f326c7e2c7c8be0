"""Stand-in services that behave like the real source systems, for the demo and the connector tests."""
