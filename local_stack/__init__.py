"""Runs the system add-on workflow on one machine, with stand-ins for Bugzilla and Balrog."""
