"""The store's revisions, oldest first. Append new ones; never edit one that has shipped."""
