"""Read-only queries behind the pages: the lots page, one lot's record, the audit trail."""
