"""Limits on end users, named once (docs/rest-api.md quotes them)."""

import re

ACCID_MAX_LENGTH = 32
ACCID_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,32}")
NAME_MAX_LENGTH = 64
AVATAR_MAX_LENGTH = 1024
EXT_MAX_LENGTH = 1024
TOKEN_MAX_LENGTH = 128
# Printable ASCII without spaces: tokens travel in headers and login frames.
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{1,128}")
LIST_PAGE_MAX = 100
