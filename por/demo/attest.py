"""The attestation steps of ``por demo``: keys, and per round sign, co-sign, publish, verify.

Embedded defaults only: the store is a SQLite file in the demo's output directory, the
keys are encrypted with a demo passphrase set in this process's environment (never on a
command line), and each bundle is checked by ``por-verify bundle`` in a subprocess, as an
auditor would run it: the reserves are re-read over JSON-RPC from the demo's chain, which
the caller serves on loopback (:func:`por.demo.reserves.serve_chain`), and the verifier
remembers each tree head in its state file, so every round must extend the one before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path

from por.attest.publish import publish_round
from por.attest.rounds import cosign_round, new_round, sign_round
from por.errors import VerificationError
from por.keys import PASSPHRASE_ENV, SigningKey, new_key_list
from por.store.db import open_store
from verifier.attestation.model import Attestation
from verifier.reserves.verify import Reader
from verifier.signed.keylist import KeyList

DEMO_PASSPHRASE = "por-toolkit demo passphrase"  # noqa: S105 (a throwaway demo secret)


class AttestDemo:
    """The demo exchange's keys, store and published bundles: what ``por serve`` needs."""

    def __init__(self, out_dir: Path, exchange: str) -> None:
        """Create the exchange's and the auditor's keys, the key list and the store."""
        os.environ[PASSPHRASE_ENV] = DEMO_PASSPHRASE  # this process (and its children) only
        self.out_dir = out_dir
        self.exchange = exchange
        keys_dir = out_dir / "keys"
        keys_dir.mkdir()
        self.exchange_key = SigningKey.generate(f"{exchange} signing key")
        self.auditor_key = SigningKey.generate("Demo Auditor")
        self.exchange_key.save(keys_dir / "exchange.pem", DEMO_PASSPHRASE)
        self.auditor_key.save(keys_dir / "auditor.pem", DEMO_PASSPHRASE)
        self.auditor_pub = keys_dir / "auditor.pub.json"
        self.auditor_pub.write_text(json.dumps(self.auditor_key.public.to_dict(), indent=2)
                                    + "\n")
        self.keylist_path = keys_dir / "keylist.json"
        self.keylist_path.write_text(new_key_list(exchange, self.exchange_key.public).to_json())
        self.keylist = KeyList.from_json(self.keylist_path.read_bytes())
        self.db_url = f"sqlite:///{(out_dir / 'por.db').absolute()}"
        self.state = out_dir / "verifier-log-state.json"
        self.bundles: dict[str, Path] = {}

    def attest(self, round_id: str, root_bytes: bytes, reserves_bytes: bytes,
               snapshot_time: datetime, readers: Mapping[str, Reader],
               risk: bytes | None = None, private_dir: Path | None = None) -> Attestation:
        """Open the round, sign it an hour after the snapshot (the reserves re-read from
        ``readers`` first), co-sign it as the auditor, and publish it to the log. A margin
        round gives its ``risk`` file (published in its bundle); a private round its
        directory (spec §13.7): the signer reads its tree's top node, and the auditor
        recomputes the whole tree file before co-signing.

        Raises:
            VerificationError: the reserves do not verify on the chain.
        """
        engine = open_store(self.db_url)
        try:
            new_round(engine, round_id, self.exchange, snapshot_time)
            signed = sign_round(engine, round_id, root_bytes, reserves_bytes,
                                SigningKey.load(self.out_dir / "keys" / "exchange.pem",
                                                DEMO_PASSPHRASE),
                                readers=readers, now=snapshot_time + timedelta(hours=1),
                                risk_bytes=risk,
                                tree_bytes=(private_dir / "tree.bin").read_bytes()
                                if private_dir else None)
            cosign_round(engine, round_id, self.auditor_key, self.keylist, private_dir)
            bundle = self.out_dir / "bundles" / round_id
            publish_round(engine, round_id, self.exchange_key,
                          self.keylist_path.read_bytes(), bundle,
                          now=snapshot_time + timedelta(hours=2))
        finally:
            engine.dispose()
        self.bundles[round_id] = bundle
        return Attestation.from_dict(signed.document)

    def verify(self, round_id: str, rpc_url: str, proof: Path | None = None) -> None:
        """``por-verify bundle`` on the round's bundle, the reserves re-read over JSON-RPC
        (and a user's ``proof`` checked against the round's root, if given).

        Raises:
            VerificationError: ``por-verify bundle`` rejects what the demo published.
        """
        cmd = [sys.executable, "-m", "verifier", "bundle", str(self.bundles[round_id]),
               "--rpc", f"ethereum={rpc_url}", "--auditor-key", str(self.auditor_pub),
               "--pin", self.exchange_key.public.key_id, "--round", round_id,
               "--state", str(self.state)] + (["--proof", str(proof)] if proof else [])
        run = subprocess.run(cmd, capture_output=True, text=True, check=False)  # noqa: S603
        if run.returncode != 0:
            raise VerificationError(f"por-verify bundle failed:\n{run.stdout}{run.stderr}")
