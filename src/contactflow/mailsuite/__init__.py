"""The Mailsuite workspace: contacts, lists, templates, tracked email over SMTP, campaigns,
tasks and each contact's activity timeline."""
