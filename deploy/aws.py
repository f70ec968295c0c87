"""The AWS clients of one deploy: one region, one account, and optionally one endpoint.

An endpoint URL sends every client to the same place, for example a moto server on loopback;
without one, boto3 finds the AWS endpoints and credentials as usual.
"""

from functools import cached_property

import boto3
from botocore.config import Config

# Deploys are rare and short: retry throttling and transient errors a little harder than default.
_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


class AwsClients:
    """boto3 clients created once per service, all in the same region and at the same endpoint."""

    def __init__(
        self, region: str, endpoint_url: str | None = None, session: boto3.Session | None = None
    ):
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = session or boto3.Session()
        self._clients: dict[str, object] = {}

    def client(self, service: str):
        """The client of one service ("lambda", "stepfunctions", ...), created on first use."""
        if service not in self._clients:
            self._clients[service] = self._session.client(
                service,
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=_CLIENT_CONFIG,
            )
        return self._clients[service]

    @cached_property
    def account(self) -> str:
        """The account the credentials belong to; resource ARNs are built with it."""
        return self.client("sts").get_caller_identity()["Account"]
