"""IO managers: every write goes to a temporary path first and is renamed into place."""
