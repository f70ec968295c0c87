"""Secrets from SSM Parameter Store or Secrets Manager, named in settings, cached per container.

A secret reference is ``ssm:<parameter name>`` or ``secretsmanager:<secret id>``. Values are
never logged, and errors name the reference, not the value.
"""

import json
import threading

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from sysaddons.errors import ConfigurationError

_cache: dict[str, str] = {}
_lock = threading.Lock()


def read_secret(reference: str) -> str:
    """The secret's value, fetched once per Lambda container."""
    with _lock:
        if reference in _cache:
            return _cache[reference]

    store, _, name = reference.partition(":")
    try:
        if store == "ssm":
            answer = boto3.client("ssm").get_parameter(Name=name, WithDecryption=True)
            value = answer["Parameter"]["Value"]
        elif store == "secretsmanager":
            value = boto3.client("secretsmanager").get_secret_value(SecretId=name)["SecretString"]
        else:
            raise ConfigurationError(
                f"secret reference {reference!r} must start with 'ssm:' or 'secretsmanager:'"
            )
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "error")
        raise ConfigurationError(f"secret {reference} could not be read ({code})") from None
    except BotoCoreError as error:
        raise ConfigurationError(
            f"secret {reference} could not be read ({type(error).__name__})"
        ) from None

    with _lock:
        _cache[reference] = value
    return value


def read_json_secret(reference: str, required_keys: tuple[str, ...]) -> dict:
    """A secret holding a JSON object, checked for the keys the caller needs."""
    try:
        value = json.loads(read_secret(reference))
    except json.JSONDecodeError:
        raise ConfigurationError(f"secret {reference} is not a JSON object") from None
    if not isinstance(value, dict):
        raise ConfigurationError(f"secret {reference} is not a JSON object")
    missing = [key for key in required_keys if not value.get(key)]
    if missing:
        raise ConfigurationError(f"secret {reference} lacks {', '.join(missing)}")
    return value


def forget_secrets() -> None:
    """Drop cached values, so a rotated secret is read again."""
    with _lock:
        _cache.clear()
