"""Secrets at rest: secrets of other systems and our own signing material (webhook signing
secrets, the installation's signing key, SMTP passwords, the Mailsuite tracking key) are stored
encrypted with MultiFernet.

The key ring comes from CONTACTFLOW_SECRET_KEYS (Fernet keys, newest first); without it, an
embedded installation keeps one generated key in CONTACTFLOW_SECRET_KEY_FILE, outside the
database, so a dump of the database alone holds no usable secret. Adding a new key in front
and running `contactflow secrets rotate-key` re-encrypts everything with it.
"""

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from contactflow.platform.db import Base, Database
from contactflow.settings import Settings, get_settings

_ring: MultiFernet | None = None


def _load_keys(settings: Settings) -> list[str]:
    if settings.secret_keys:
        return list(settings.secret_keys)
    path = Path(settings.secret_key_file)
    if not path.exists():
        # Created with owner-only permissions in one step so no other user can read it.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(Fernet.generate_key().decode() + "\n")
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def configure(settings: Settings) -> None:
    global _ring
    _ring = MultiFernet([Fernet(key.encode()) for key in _load_keys(settings)])


def ring() -> MultiFernet:
    if _ring is None:
        configure(get_settings())
    assert _ring is not None
    return _ring


def encrypt(plaintext: str) -> str:
    return ring().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return ring().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise RuntimeError(
            "a stored secret cannot be decrypted: CONTACTFLOW_SECRET_KEYS (or the key file) "
            "does not hold the key it was encrypted with"
        ) from error


class EncryptedText(TypeDecorator[str]):
    """A text column whose value is encrypted on the way in and decrypted on the way out."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)


def new_key_in_file(settings: Settings) -> bool:
    """For a key-file installation, put a fresh key in front of the file. False when the
    keys come from CONTACTFLOW_SECRET_KEYS, where the operator adds the new key."""
    if settings.secret_keys:
        return False
    path = Path(settings.secret_key_file)
    keys = _load_keys(settings)
    path.write_text("\n".join([Fernet.generate_key().decode(), *keys]) + "\n")
    configure(settings)
    return True


def drop_old_keys_from_file(settings: Settings) -> None:
    """After everything is re-encrypted, only the newest key is still needed."""
    path = Path(settings.secret_key_file)
    path.write_text(_load_keys(settings)[0] + "\n")
    configure(settings)


async def rotate_all(db: Database) -> int:
    """Re-encrypt every encrypted value with the newest key; returns how many it rewrote.

    Reading decrypts with whichever key of the ring fits; writing encrypts with the first.
    """
    rewritten = 0
    async with db.unit_of_work() as uow:
        for table in Base.metadata.sorted_tables:
            columns = [column for column in table.columns if isinstance(column.type, EncryptedText)]
            if not columns:
                continue
            keys = list(table.primary_key.columns)
            for row in await uow.session.execute(select(*keys, *columns)):
                values = {
                    column.name: row[len(keys) + index]
                    for index, column in enumerate(columns)
                    if row[len(keys) + index] is not None
                }
                if values:
                    match = [key == row[position] for position, key in enumerate(keys)]
                    await uow.session.execute(update(table).where(*match).values(**values))
                    rewritten += len(values)
    return rewritten
