"""Reserves: wallet ownership bound to the round, balances re-read at the snapshot (spec §11).

``challenge`` owns the signed message bytes, ``model`` the wallet list and reserves file,
``chains`` the node readers (JSON-RPC), ``verify`` the checks and the report.
"""
