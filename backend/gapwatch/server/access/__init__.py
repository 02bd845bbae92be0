"""The access floor: who is calling (sessions, API keys, worker and run tokens) and may they
touch this run or project (roles). Every domain uses it; it imports no domain."""
