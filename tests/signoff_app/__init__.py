"""Tests of the signoff web app."""
