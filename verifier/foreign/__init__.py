"""Other exchanges' Merkle liability proofs, checked by each exchange's own published rule.

One module per exchange (:mod:`okx`, :mod:`bybit`, :mod:`bitget`, :mod:`mexc`,
:mod:`coinex`), a shared report (:mod:`report`), strict parsing and the exchanges' decimal
printing (:mod:`parsing`), format recognition (:mod:`detect`) and the ``foreign`` command
group (:mod:`cli`). Nothing here is used to build our own proofs; see ``docs/formats.md``.
"""
