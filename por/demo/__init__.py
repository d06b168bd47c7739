"""The demo exchange (`por demo`): rounds, reserves on an in-process chain, attestations."""
