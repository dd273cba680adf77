"""Errors a user can fix (one line, exit code 2), and a batch engine that cannot go on (one
line, exit code 1)."""

from __future__ import annotations


class InputError(Exception):
    """Bad input: the message names the file, row and field, and why."""


class LawDataError(InputError):
    """A tax-law data file is missing, malformed or inconsistent."""


class LawYearError(LawDataError):
    """No tax law for a year asked: before the published years, or after them with projection
    off. Callers that know where the year came from put that place in front of the message."""


class EngineError(Exception):
    """A batch's workers cannot start, or its cluster stopped returning results: nothing is wrong
    with the input, and the chunks written so far are kept for a resume."""
