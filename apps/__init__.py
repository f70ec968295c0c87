"""Web applications around the system add-on workflow (the signoff app)."""
