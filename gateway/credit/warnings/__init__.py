"""Early warnings (风险预警): rules in configuration raise warnings with their evidence, each routed to a
department and followed from new to handled or dismissed."""
