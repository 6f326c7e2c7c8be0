"""The reference provincial hub: receive, verify, decrypt, validate, store, answer with a signed receipt.

It imports only the protocol (gateway.transfer) and the schema loader (gateway.schema), never the
gateway's store, so it stands in for the real provincial platform in tests and demos.
"""
