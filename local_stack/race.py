"""Twenty add-ons for the same channel and Firefox versions, all at once, on the local stack.

    python -m local_stack.race [--executions 20]

Every execution starts at the same moment; each signoff is held until every execution waits
for one, then all are approved together, so that the steps after them write the same Balrog
rules at the same moment. Balrog refuses all but one write of each round as outdated; each
refused step must re-read the rule, merge its add-on onto what is served now and write
again. The same table as the soak's follows: at the end the release channel must serve all
twenty at their new versions and every other add-on exactly as before, and no rule write may
have dropped or changed an add-on other than its own.
"""

import sys

from local_stack.soak import SoakSettings, parser, run_from_command_line, settings_from

RACERS = 20


def race_settings(executions: int = RACERS, name: str = "race", first_firefox: int = 180):
    """Soak settings for a race: everything at once, one group of versions, no faults."""
    return SoakSettings(
        executions=executions,
        concurrency=executions,
        fault_rate=0.0,
        http_timeout=None,
        version_groups=1,
        first_firefox=first_firefox,
        name=name,
        approve_together=True,
    )


def main(argv=None) -> int:
    defaults = race_settings()
    options = parser(prog="python -m local_stack.race")
    options.set_defaults(
        executions=defaults.executions,
        concurrency=None,
        fault_rate=defaults.fault_rate,
        version_groups=defaults.version_groups,
    )
    args = options.parse_args(argv)
    if args.concurrency is None:
        args.concurrency = args.executions
    settings = settings_from(
        args, first_firefox=defaults.first_firefox, name=defaults.name, approve_together=True
    )
    return run_from_command_line(settings, args.verbose)


if __name__ == "__main__":
    sys.exit(main())
