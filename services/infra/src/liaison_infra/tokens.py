"""Key pairs and tokens for local use: the station profile makes its key pair on first
start, and ``make token ROLE=... STATION=...`` prints a token signed with it."""

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from liaison_infra.auth import Role

PRIVATE_KEY = "jwt-private.pem"
PUBLIC_KEY = "jwt-public.pem"


def ensure_key_pair(directory: Path) -> tuple[Path, Path]:
    """Create an Ed25519 key pair in ``directory`` unless one is there; return both paths."""
    private_path, public_path = directory / PRIVATE_KEY, directory / PUBLIC_KEY
    if private_path.exists() and public_path.exists():
        return private_path, public_path
    directory.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    private_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    private_path.chmod(0o600)
    public_path.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private_path, public_path


def issue_token(
    private_key_pem: bytes,
    *,
    subject: str,
    roles: list[Role],
    stations: Sequence[str] = (),
    districts: Sequence[str] = (),
    department: str | None = None,
    ttl: timedelta = timedelta(hours=8),
    issuer: str = "liaison",
    audience: str = "liaison",
) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": subject,
        "roles": [str(role) for role in roles],
        "stations": list(stations),
        "districts": list(districts),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
        "jti": uuid4().hex,
    }
    if department:
        claims["department"] = department
    return jwt.encode(claims, private_key_pem, algorithm="EdDSA")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="liaison-token", description="Print a token for local use.")
    parser.add_argument("--role", action="append", required=True, choices=[str(role) for role in Role])
    parser.add_argument("--station", action="append", default=[])
    parser.add_argument("--district", action="append", default=[])
    parser.add_argument("--department")
    parser.add_argument("--subject", default="local-user")
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--keys", type=Path, default=Path("var/keys"))
    args = parser.parse_args(argv)
    private_path, _ = ensure_key_pair(args.keys)
    token = issue_token(
        private_path.read_bytes(),
        subject=args.subject,
        roles=[Role(role) for role in args.role],
        stations=args.station,
        districts=args.district,
        department=args.department,
        ttl=timedelta(hours=args.hours),
    )
    sys.stdout.write(token + "\n")
