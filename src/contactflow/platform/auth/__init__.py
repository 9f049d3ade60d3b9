"""Who is calling and what they may do: credentials, principals, scopes."""
