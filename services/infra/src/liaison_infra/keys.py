"""The secrets a deployment needs before any service starts: the JWT key pair and the PII
keyring. The station profile makes them on first start; the cluster runs ``liaison-keys DIR``
once (the compose file's ``keys`` service)."""

import argparse
from dataclasses import dataclass
from pathlib import Path

from liaison_infra.pii import ensure_keyring_file
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
    Keys.ensure(parser.parse_args(argv).directory)
