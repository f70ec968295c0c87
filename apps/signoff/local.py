"""The signoff app on the local stack: dev login, the stack's table and state machine."""

from apps.signoff import create_app
from apps.signoff.config import DEV_USERS_FILE
from local_stack.servers import RunningServer, start_wsgi_server
from local_stack.stack import SIGNOFF_TABLE


def local_settings(stack) -> dict:
    """Settings for a running LocalStack: dev login from dev_users.json, plain http."""
    return {
        "AUTH_MODE": "dev",
        "LOCAL_STACK": True,
        "COOKIE_SECURE": False,
        "DEV_USERS_FILE": str(DEV_USERS_FILE),
        "SIGNOFF_TABLE": SIGNOFF_TABLE,
        "STATE_MACHINE_ARN": stack.state_machine_arn,
        "BUGZILLA_URL": stack.bugzilla_server.url,
        "BALROG_ADMIN_URL": stack.balrog_server.url,
        "BALROG_PUBLIC_URL": stack.balrog_server.url,
    }


def start_local_app(stack, port: int = 0) -> RunningServer:
    """Serve the signoff app on 127.0.0.1 (port 0 picks a free one); ``.url`` says where."""
    return start_wsgi_server(create_app(local_settings(stack)), host="127.0.0.1", port=port)
