"""The SDK generator: `python -m sdk_clients.generator` (= `make sdk`) writes the protocol code of every SDK
from protocol/imcloud.proto; `--check` fails when a committed file is stale."""
