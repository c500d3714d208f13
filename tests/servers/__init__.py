"""Real servers the tests start on 127.0.0.1 and stop afterwards (PostgreSQL here; sshd is in tests/fakes)."""
