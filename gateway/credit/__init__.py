"""Credit-based supervision (信用监管) over the gateway's store: risk classes (gateway.credit.risk), early
warnings (gateway.credit.warnings) and double-random draws (gateway.credit.draws).

It reads what intake stored — entities and the current versions of their records — and writes only its own
tables (``credit_*``, gateway.credit.metadata); nothing here changes a record, the outbox or the feed to the
province. The risk class is internal (a basis for allocating supervision, not a public rating): it never
enters a batch for the hub, and whatever shows it checks the caller's role. docs/credit.md states the rules
and their public sources.
"""
