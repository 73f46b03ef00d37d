"""Users, roles, API tokens."""
