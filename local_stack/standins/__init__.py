"""In-memory Bugzilla and Balrog that speak the parts of their HTTP APIs the workflow uses."""
