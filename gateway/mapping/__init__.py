"""From a source's columns to a record type's fields: the mapping files (spec), the header matching
(headers, header_rows, units), the per-field transforms, and the plan that ties them (engine)."""
