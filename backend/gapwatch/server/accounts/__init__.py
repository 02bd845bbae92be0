"""Accounts: users, sign-in, sessions, one-time links, API keys, projects and members."""
