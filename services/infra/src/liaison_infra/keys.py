"""The secrets a deployment needs before any service starts: the JWT key pair and the PII
keyring. The station profile makes them on first start; the cluster runs ``liaison-keys DIR``
once (the compose file's ``keys`` service). ``--rotate-pii`` adds a key version."""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from liaison_infra.pii import ensure_keyring_file, rotate
from liaison_infra.tokens import ensure_key_pair

KEYRING = "pii-keyring.json"


@dataclass(frozen=True)
class Keys:
    jwt_public: Path
    pii_keyring: Path

    @classmethod
    def ensure(cls, directory: Path) -> "Keys":
        """Create what is missing in ``directory``; existing keys are never replaced."""
        _, public_key = ensure_key_pair(directory)
        return cls(jwt_public=public_key, pii_keyring=ensure_keyring_file(directory / KEYRING))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="liaison-keys", description=__doc__)
    parser.add_argument("directory", type=Path)
    parser.add_argument(
        "--rotate-pii",
        action="store_true",
        help="add a PII key version and make it current; restart every service, and records re-encrypts",
    )
    args = parser.parse_args(argv)
    keys = Keys.ensure(args.directory)
    if args.rotate_pii:
        sys.stdout.write(f"PII key version {rotate(keys.pii_keyring).current} is current\n")
