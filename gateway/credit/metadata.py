"""The credit tables' MetaData: one schema with the store's (the same migrations, gateway/store/migrations
0010–0012) but its own collection of tables, so that the store's tables never learn of these and a test can
compare each collection with what the migrations create."""

from __future__ import annotations

from sqlalchemy import MetaData

from gateway.store.tables import metadata as store_metadata

metadata = MetaData(naming_convention=store_metadata.naming_convention)
