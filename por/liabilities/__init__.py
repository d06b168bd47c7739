"""The exchange's liabilities side: snapshot ingest, asset lists, round secrets, the tree
builder (local stages and a Dask cluster), margin rounds, ledger import, proofs and tokens."""
