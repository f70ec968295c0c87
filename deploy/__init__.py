"""Deploys the system add-on workflow to AWS: its functions, state machine, roles and signoff app.

Run as ``python -m deploy [--env dev|prod] [--dry-run] [deploy|rollback|status|policies]``;
docs/deploying.md says how to configure an environment and what each command does.
"""
