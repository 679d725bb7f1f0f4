"""The connection type: sqlcipher3 ships no type information."""

from typing import Any

Connection = Any
