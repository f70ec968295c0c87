"""The failures a deploy stops on, each with a message a release engineer can act on."""


class DeployError(Exception):
    """Base class: the command stopped; its message says why."""


class ConfigurationError(DeployError):
    """The Apex configuration or an environment's settings are incomplete or inconsistent."""


class NotDeployed(DeployError):
    """The state machine or its alias does not exist yet in this environment."""


class NothingToRollBackTo(DeployError):
    """The alias already serves the earliest version there is."""
