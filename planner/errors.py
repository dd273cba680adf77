"""Errors a user can fix. The CLI prints them as one line and exits with code 2."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: the message names the file, row and field, and why."""


class LawDataError(InputError):
    """A tax-law data file is missing, malformed or inconsistent."""


class LawYearError(LawDataError):
    """No tax law for a year asked: before the published years, or after them with projection
    off. Callers that know where the year came from put that place in front of the message."""
