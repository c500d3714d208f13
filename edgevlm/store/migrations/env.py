"""Alembic environment: always run on the connection ``edgevlm.store.schema.upgrade`` passes in, inside the
transaction it holds (so concurrent openers migrate once), never from an ini file or a URL of its own."""
from alembic import context

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, transaction_per_migration=False)
with context.begin_transaction():
    context.run_migrations()
