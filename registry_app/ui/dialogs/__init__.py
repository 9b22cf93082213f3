"""The workflow dialogs: receive, release/reject/destroy, administer, recall, waive, import, sign."""
