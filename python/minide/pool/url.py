"""Database URLs: ``postgresql://user@host:port/db``, ``mysql://root@127.0.0.1/test``,
``sqlite:///path/to/file.db`` (and ``sqlite:///:memory:``), parsed into a :class:`ConnInfo`.

The scheme picks the default driver (``postgresql`` → psycopg, ``mysql``/``mariadb`` → pymysql,
``sqlite`` → sqlite3); a ``+driver`` suffix (``postgresql+psycopg2://``) or the pool's
``driver=`` argument overrides it. Query parameters (``?sslmode=disable&application_name=x``)
are passed to the driver's ``connect`` as keyword arguments (``autocommit=true`` as a bool for
psycopg/psycopg2; PyMySQL's timeouts as numbers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from minide.errors import InvalidArgumentError

__all__ = ["DEFAULT_DRIVERS", "ConnInfo", "parse_url"]

#: scheme → (family, default driver, default port)
_SCHEMES: dict[str, tuple[str, str, int | None]] = {
    "postgresql": ("postgresql", "psycopg", 5432),
    "postgres": ("postgresql", "psycopg", 5432),
    "mysql": ("mysql", "pymysql", 3306),
    "mariadb": ("mysql", "pymysql", 3306),
    "sqlite": ("sqlite", "sqlite3", None),
}
#: the driver each family uses unless told otherwise
DEFAULT_DRIVERS = {"postgresql": "psycopg", "mysql": "pymysql", "sqlite": "sqlite3"}
#: which drivers can talk to which family
FAMILY_DRIVERS = {
    "postgresql": ("psycopg", "psycopg2"),
    "mysql": ("pymysql",),
    "sqlite": ("sqlite3",),
}


@dataclass(frozen=True)
class ConnInfo:
    """What a URL says: the database family, the driver, where and as whom to connect."""

    family: str
    driver: str
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    database: str | None = None
    #: extra keyword arguments for the driver's connect (from the URL's query string)
    params: dict[str, str] = field(default_factory=dict)

    def redacted(self) -> str:
        """The URL without its password, for messages, logs and metrics labels."""
        if self.family == "sqlite":
            return f"sqlite:///{self.database}"
        auth = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.family}://{auth}{self.host or ''}{port}/{self.database or ''}"

    def with_address(self, host: str, port: int) -> ConnInfo:
        """The same target reached at another address (a proxy in front of the server)."""
        return ConnInfo(
            self.family,
            self.driver,
            host,
            port,
            self.user,
            self.password,
            self.database,
            dict(self.params),
        )


def parse_url(url: str, driver: str | None = None) -> ConnInfo:
    """Parse a database URL; ``driver`` (if given) overrides the scheme's default driver.

    Raises :class:`InvalidArgumentError` for an unknown scheme, a driver that cannot talk to the
    scheme's database, or a SQLite URL without a path.
    """
    if not isinstance(url, str):
        raise InvalidArgumentError(f"url must be a string like 'postgresql://host/db', got {url!r}")
    parts = urlsplit(url)
    scheme, _, url_driver = parts.scheme.partition("+")
    if scheme not in _SCHEMES:
        raise InvalidArgumentError(
            f"url {url!r}: unknown scheme {parts.scheme!r}; use postgresql://, mysql:// "
            "(or mariadb://) or sqlite:///path"
        )
    family, default_driver, default_port = _SCHEMES[scheme]
    chosen = driver or url_driver or default_driver
    if chosen not in FAMILY_DRIVERS[family]:
        raise InvalidArgumentError(
            f"url {url!r}: driver {chosen!r} cannot connect to {family}; "
            f"use one of {', '.join(FAMILY_DRIVERS[family])}"
        )
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    if family == "sqlite":
        # sqlite:///relative.db, sqlite:////abs/path.db, sqlite:///:memory:
        path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
        if parts.netloc:
            path = unquote(parts.netloc) + ("/" + path if path else "")
        if not path:
            raise InvalidArgumentError(
                f"url {url!r}: a SQLite URL needs a path: sqlite:///file.db or sqlite:///:memory:"
            )
        return ConnInfo(family, chosen, database=path, params=params)
    try:
        port = parts.port or default_port
    except ValueError as e:
        raise InvalidArgumentError(f"url {url!r}: bad port ({e})") from None
    database = unquote(parts.path.lstrip("/")) or None
    return ConnInfo(
        family,
        chosen,
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        database=database,
        params=params,
    )
