"""Room on every page of the two tables each message updates (a conversation's ``last_seq``, the
sender's ``read_seq``): with a fillfactor of 50, PostgreSQL prunes a page's dead row versions once
it is half full instead of nearly full, so the HOT chains that every lookup of those rows walks
stay short (``heap_hot_search_buffer`` was the send path's top PostgreSQL symbol,
docs/performance.md). Other databases have no such setting."""

from django.db import migrations

TABLES = ("messaging_conversation", "messaging_conversationmember")


def set_fillfactor(value: int):  # type: ignore[no-untyped-def]
    def apply(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = {value})")

    return apply


class Migration(migrations.Migration):
    dependencies = [("messaging", "0004_message_fk_indexes_covered")]

    operations = [migrations.RunPython(set_fillfactor(50), set_fillfactor(100))]
