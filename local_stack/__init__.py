"""Runs the system add-on workflow on one machine, against local stand-ins of Bugzilla and Balrog."""
