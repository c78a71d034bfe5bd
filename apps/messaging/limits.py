"""Message limits, named once; docs/protocol.md and docs/rest-api.md quote them."""

TEXT_MAX_CHARS = 5000
CUSTOM_MAX_CHARS = 10_000
EXT_MAX_CHARS = 1024
CLIENT_MSG_ID_MAX = 64
URL_MAX = 1024
NAME_MAX = 256
MIME_MAX = 128
PAGE_MAX = 100
BATCH_RECIPIENTS_MAX = 500
TEAM_MEMBERS_DEFAULT = 200
TEAM_MEMBERS_MAX = 10_000
# Conversation-list sync looks this far behind its cursor, so a change committed late (or stamped
# by a clock slightly behind) is still seen; clients dedupe by (conversation, seq).
SYNC_CURSOR_MARGIN_MS = 10_000
