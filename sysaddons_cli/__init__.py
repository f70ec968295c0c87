"""The release manager's and reviewer's command line."""
