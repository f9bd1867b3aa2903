"""Pitchside's own detect-secrets plugins, loaded by scripts/secret-scan/scan.py with
`--plugin`. They add what the stock plugins miss for this project (see
docs/security-checks.md):

* FernetKeyDetector: any 32-byte key written as base64 (44 characters ending in one
  `=`), quoted or not. That is the shape of a Fernet key (`pitchside keys generate`,
  Python's `Fernet.generate_key()`), and of most other 256-bit secrets.
* PitchsideSecretAssignmentDetector: a literal value of 16+ characters given to a
  `PITCHSIDE_KEYS_*` or `*_SECRET*` name, as an env line, a TOML/YAML key, a Rust
  tuple `("NAME", "value")` or `.env("NAME", "value")`.

Both are plain regular expressions over one line at a time.
"""

import re

from detect_secrets.plugins.base import RegexBasedDetector

# 32 bytes are 43 base64 digits (the last one carries 4 bits, so only 16 of the 64
# digits can stand there) and one `=` of padding. Either alphabet: urlsafe (Fernet)
# or standard.
_B64 = r"A-Za-z0-9_\-+/"
_KEY32 = rf"(?<![{_B64}])([{_B64}]{{42}}[AEIMQUYcgkosw048]=)(?![{_B64}=])"

# Environment-style secret names. Upper case only: lower-case `secret` fields are
# the stock KeywordDetector's job.
_NAME = r"(?:PITCHSIDE_KEYS_[A-Z0-9_]+|[A-Z0-9_]*_SECRET(?:_[A-Z0-9_]+)?)"
# `NAME=v`, `NAME: v`, `NAME = "v"`, `"NAME": "v"`, `NAME => "v"`; after a comma (a
# Rust tuple or call) only a quoted value counts, since `(NAME, path.display())` is code.
_ASSIGN = r"""["']?\s*(?:=>|:=|=|:)\s*["']?"""
_ARGUMENT = r"""["']?\s*,\s*["']"""
# A literal: no `$` (a shell or template reference), no `&`/`(` (a Rust expression).
_VALUE = r"([A-Za-z0-9_\-+/=,.~]{16,})"


class FernetKeyDetector(RegexBasedDetector):
    """A 256-bit key in base64, e.g. a Fernet key."""

    secret_type = "Fernet key (32 bytes, base64)"  # pragma: allowlist secret
    denylist = (re.compile(_KEY32),)


class PitchsideSecretAssignmentDetector(RegexBasedDetector):
    """A literal value assigned to PITCHSIDE_KEYS_* or *_SECRET*."""

    secret_type = "Secret assigned to PITCHSIDE_KEYS_* / *_SECRET"  # pragma: allowlist secret
    denylist = (
        re.compile(rf"\b{_NAME}{_ASSIGN}{_VALUE}"),
        re.compile(rf"\b{_NAME}{_ARGUMENT}{_VALUE}"),
    )
