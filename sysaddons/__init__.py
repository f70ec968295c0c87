"""Code shared by the workflow's Lambda functions: clients, checks, settings and errors."""
